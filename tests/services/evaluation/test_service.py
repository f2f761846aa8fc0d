from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core.bus.models import OutboxEvent
from citybase.core.bus.schemas import EventEnvelope
from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.ledger.models import LedgerEntry
from citybase.core.settings import Settings
from citybase.core.workdays import DEFAULT
from citybase.hub.cases import service as cases
from citybase.services.evaluation import service, tasks
from citybase.services.evaluation.schemas import RatingCreate, RevisitIn
from tests.core.identity.factories import principal_of
from tests.services.evaluation.factories import MONDAY, PHONE, city, closed, taken

RATED_AT = MONDAY + timedelta(days=1)  # Tuesday 24 November, 10:00 in Fuzhou


def _rate(
    session: Session,
    settings: Settings,
    number: str,
    grade: str,
    phone: str = PHONE,
    kind: str = "case",
    **more: object,
):  # type: ignore[no-untyped-def]
    data = RatingCreate.model_validate(
        {"kind": kind, "subject_id": number, "phone": phone, "grade": grade, **more}
    )
    return service.rate(session, settings, data, DEFAULT, at=RATED_AT)  # fmt: skip


def _actions(session: Session) -> list[str]:
    return list(session.scalars(select(LedgerEntry.action).order_by(LedgerEntry.seq)))


def test_a_closed_case_is_rated_once_by_its_reporter(session: Session, settings: Settings) -> None:
    city(session)
    number = closed(session)
    # the hub's close event opens the case for rating
    tasks.on_case_changed(session, EventEnvelope(
        event_id="e1", topic="hub.case.changed", created_at=MONDAY,
        payload={"number": number, "to_state": "closed"}))  # fmt: skip
    with pytest.raises(Forbidden, match="only the applicant"):
        _rate(session, settings, number, "satisfied", phone="13900000000")
    rated = _rate(session, settings, number, "very_satisfied", comment="很快")
    assert (rated.kind.value, rated.unit_code, rated.channel.value) == (
        "case",
        "gl.urban",
        "hotline",
    )
    assert rated.rectify_state.value == ""
    assert rated.rectify_due is None
    assert "services.evaluation.rated" in _actions(session)
    with pytest.raises(Conflict, match="already rated"):
        _rate(session, settings, number, "unsatisfied", reasons=["slow"])
    # the hub's own verdict (回访) and its 满意率 are untouched
    case = cases.get_for_system(session, number)
    assert case.satisfaction is not None
    assert case.satisfaction.value == "satisfied"
    topics = session.scalars(select(OutboxEvent.topic)).all()
    assert "services.evaluation.rated" in topics


def test_a_case_not_yet_handled_cannot_be_rated(session: Session, settings: Settings) -> None:
    city(session)
    number = taken(session)
    with pytest.raises(Conflict, match="not yet handled"):
        _rate(session, settings, number, "satisfied")
    # a closed case is rated even before its close event comes through
    later = closed(session, 1)
    assert _rate(session, settings, later, "basic").grade.value == "basic"


def test_bad_ratings_need_a_reason_from_the_list(session: Session, settings: Settings) -> None:
    city(session)
    number = closed(session)
    with pytest.raises(InvalidInput, match="needs a reason") as missing:
        _rate(session, settings, number, "very_unsatisfied")
    assert missing.value.field == "reasons"
    with pytest.raises(InvalidInput) as other:
        _rate(session, settings, number, "unsatisfied", reasons=["other"])
    assert other.value.field == "comment"
    with pytest.raises(ValidationError, match="unknown reason"):
        RatingCreate(kind="case", subject_id=number, phone=PHONE, grade="unsatisfied",
                     reasons=["cold tea"])  # fmt: skip
    with pytest.raises(ValidationError, match="grade"):
        RatingCreate.model_validate({"kind": "case", "subject_id": number, "phone": PHONE,
                                     "grade": "great"})  # fmt: skip


def test_a_bad_rating_is_rectified_revisited_and_warned_when_late(
    session: Session, settings: Settings
) -> None:
    city(session)
    number = closed(session)
    bad = _rate(session, settings, number, "unsatisfied", reasons=["slow", "result"])
    # five working days on the city's calendar: Tuesday 24 November → Tuesday 1 December
    assert bad.rectify_state.value == "pending"
    assert bad.rectify_due == datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    other_unit = principal_of(session, "tj.handler")
    with pytest.raises(NotFound):  # another unit does not see it
        service.answer_rectification(session, other_unit, bad.id, "已整改")
    operator = principal_of(session, "operator")
    with pytest.raises(Conflict, match="revisit after"):
        service.record_revisit(session, operator, bad.id, RevisitIn(accepted=True))
    assert service.warn_overdue(session, datetime(2026, 11, 30, tzinfo=UTC)) == 0
    assert service.warn_overdue(session, datetime(2026, 12, 2, tzinfo=UTC)) == 1
    assert service.warn_overdue(session, datetime(2026, 12, 3, tzinfo=UTC)) == 0  # once
    handler = principal_of(session, "gl.handler")
    with pytest.raises(InvalidInput):
        service.answer_rectification(session, handler, bad.id, " ")
    answered = service.answer_rectification(session, handler, bad.id, "已约谈经办人，压缩办理时限",
                                            at=datetime(2026, 12, 2, tzinfo=UTC))  # fmt: skip
    assert answered.rectify_state.value == "answered"
    with pytest.raises(Conflict, match="nothing to rectify"):
        service.answer_rectification(session, handler, bad.id, "再次反馈")
    with pytest.raises(Forbidden, match="service centre"):
        service.record_revisit(session, handler, bad.id, RevisitIn(accepted=True))
    done = service.record_revisit(
        session, operator, bad.id, RevisitIn(accepted=False, note="仍不满意")
    )
    assert done.rectify_state.value == "rejected"
    actions = _actions(session)
    for verb in ("rated", "overdue", "rectified", "revisited"):
        assert f"services.evaluation.{verb}" in actions
    [unit] = service.figures(session, None, "unit", now=datetime(2026, 12, 5, tzinfo=UTC))
    assert (unit.key, unit.count, unit.bad, unit.rectified, unit.rectified_on_time) == (
        "gl.urban", 1, 1, 1, 0)  # fmt: skip
    assert unit.rectify_rate == 0.0
    assert unit.good_rate == 0.0


def test_any_domain_opens_a_subject_for_its_applicant(session: Session, settings: Settings) -> None:
    city(session)
    key = service.applicant_key_for_phone(settings, "138 0591 5678")
    assert "13805915678" not in key
    service.open_for_rating(session, subject_kind="application", subject_id="YJS-1",
                            unit_code="gl.urban", applicant_key=key, channel="window",
                            title="新生儿出生一件事", handled=False)  # fmt: skip
    with pytest.raises(Conflict, match="not yet handled"):
        _rate(session, settings, "YJS-1", "satisfied", phone="13805915678", kind="application")
    service.mark_handled(session, "application", "YJS-1", at=MONDAY)
    with pytest.raises(Forbidden):
        _rate(session, settings, "YJS-1", "satisfied", kind="application")  # not the applicant
    with pytest.raises(Forbidden):  # an unknown subject answers as a wrong phone does
        _rate(session, settings, "YJS-2", "satisfied", phone="13805915678", kind="application")
    good = _rate(session, settings, "YJS-1", "satisfied", phone="138-0591-5678", kind="application")
    assert good.channel.value == "window"
    for grade, n in (("very_satisfied", 3), ("basic", 1), ("very_unsatisfied", 1)):
        for i in range(n):
            service.open_for_rating(session, subject_kind="matter", subject_id=f"{grade}{i}",
                                    unit_code="tj.urban", applicant_key=key, channel="portal")  # fmt: skip
            _rate(session, settings, f"{grade}{i}", grade, phone="13805915678", kind="matter",
                  reasons=["trips"] if grade == "very_unsatisfied" else [])  # fmt: skip
    by_kind = {f.key: f for f in service.figures(session, None, "kind")}
    assert by_kind["matter"].count == 5
    assert by_kind["matter"].bad == 1
    assert by_kind["matter"].good_rate == 0.8
    assert by_kind["matter"].grades["very_satisfied"] == 3
    [everything] = service.figures(session, None, "all")
    assert (everything.count, everything.good_rate) == (6, round(5 / 6, 4))
    assert service.city_rate(session, "good", MONDAY, datetime.now(UTC)) == round(500 / 6, 2)
    # a unit sees its own
    mine = service.figures(session, principal_of(session, "tj.handler"), "unit")
    assert [f.key for f in mine] == ["tj.urban"]


def test_a_case_answered_on_the_spot_is_rated_for_the_centre(
    session: Session, settings: Settings
) -> None:
    from citybase.hub.cases.schemas import Action, ActionIn, CaseCreate
    from tests.hub.cases.factories import mover

    city(session)
    question = CaseCreate(text="请问社保卡丢失怎么补办？", address="鼓楼区", reporter_phone=PHONE)
    op = mover(session, "operator")
    number = cases.intake(session, op, question, now=MONDAY).case.number
    cases.act(
        session, op, number, Action.close, ActionIn(reply="可到社保服务网点补办。"), now=MONDAY
    )
    assert _rate(session, settings, number, "satisfied").unit_code == "fz.hotline"
