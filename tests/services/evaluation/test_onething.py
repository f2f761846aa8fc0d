"""A one-thing application and its matters, once done, are rated by their applicant (proved by
the phone on his form) — each matter for its own unit, the application for the item's lead
unit — and a matter's hub case is not rated a second time as a 12345 case."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core.bus.models import OutboxEvent
from citybase.core.bus.schemas import EventEnvelope
from citybase.core.errors import Conflict, Forbidden
from citybase.core.files import service as files
from citybase.core.settings import Settings
from citybase.core.workdays import DEFAULT
from citybase.data.masking import operators as ops
from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import Action, ActionIn
from citybase.services.evaluation import repository, service, tasks
from citybase.services.evaluation.schemas import RatingCreate
from citybase.services.onething import service as onething
from citybase.services.onething.schemas import ApplicationCreate, ApplicationRead
from tests.services.onething.factories import OneThingCity, onething_city
from tests.services.onething.test_service import PNG


def _submitted(session: Session, settings: Settings, city: OneThingCity) -> ApplicationRead:
    photo = files.keep(session, settings, "zhangsan", "photo.png", PNG).id
    data = ApplicationCreate(item_code="test.thing", consent=True, values={"办理事由": "新开店"},
                             materials={"photo": photo, "licence": photo})  # fmt: skip
    return onething.submit(
        session, city.applicant, data, settings, ops.keys_for(settings.masking_key)
    )


def _replied(session: Session, who, number: str) -> None:  # type: ignore[no-untyped-def]
    mover = cases.Mover.of(session, who)
    cases.act(session, mover, number, Action.sign, ActionIn())
    cases.act(session, mover, number, Action.reply, ActionIn(reply="已办结"))
    onething.on_case_changed(session, number, "reply", cal=DEFAULT)


def _feed(session: Session) -> None:
    """The one-thing events in the outbox, to the evaluation's consumer (each twice: the second
    delivery changes nothing)."""
    session.flush()
    for event in session.scalars(select(OutboxEvent).where(
            OutboxEvent.topic == "services.onething.application.changed")):  # fmt: skip
        for _ in range(2):
            tasks.on_onething_changed(session, EventEnvelope(
                event_id=event.event_id, topic=event.topic, payload=event.payload,
                created_at=event.created_at))  # fmt: skip


def _rate(session: Session, settings: Settings, kind: str, subject: str, phone: str):  # type: ignore[no-untyped-def]
    data = RatingCreate.model_validate(
        {"kind": kind, "subject_id": subject, "phone": phone, "grade": "satisfied"}
    )
    return service.rate(session, settings, data, DEFAULT)


def test_a_done_application_and_its_matters_are_rated_by_the_applicant(
    session: Session, settings: Settings
) -> None:
    city = onething_city(session, settings)
    app = _submitted(session, settings, city)
    phone = onething.applicant_phone(app)
    assert phone
    first = app.matters[0].case_number
    _replied(session, city.health, first)
    _feed(session)
    # the first matter is open for rating, for its own unit; the application not yet
    subject = repository.subject(session, "matter", first)
    assert subject is not None
    assert subject.unit_code == "fz.health"
    assert repository.subject(session, "application", app.number) is None
    with pytest.raises(Forbidden):
        _rate(session, settings, "matter", first, "13900000000")
    rated = _rate(session, settings, "matter", first, phone)
    assert (rated.kind.value, rated.unit_code) == ("matter", "fz.health")
    with pytest.raises(Conflict):
        _rate(session, settings, "matter", first, phone)
    second = onething.application_for_system(session, app.number)
    assert second is not None
    _replied(session, city.urban, second.matters[1].case_number)
    _feed(session)
    whole = _rate(session, settings, "application", app.number, phone)
    assert whole.unit_code == "fz.health"  # the item's lead unit
    # the matter's hub case is rated as the matter, never again as a 12345 case
    assert service.open_case(session, first) is None
    assert repository.subject(session, "case", first) is None
