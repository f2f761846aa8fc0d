"""The one-thing service's background work: following its matters' cases on the bus, and the
daily look for persons the data says qualify for an item unasked (免申即办)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.bus.schemas import EventEnvelope
from citybase.core.bus.service import JobContext, job
from citybase.core.workdays import calendar_for
from citybase.data.masking import operators as ops
from citybase.hub.cases.schemas import CaseEvent
from citybase.services.onething import service

OFFERS = "services.onething.offers"
FOLLOW = "services.onething.follow_case"


@bus.consumer("services.onething.cases", CaseEvent.topic)
def on_case_changed(session: Session, envelope: EventEnvelope) -> None:
    """A matter's case returned or replied: the work is stored as a job, which carries the
    settings — the matters a reply opens count their deadlines on the city's working calendar
    (``<home>/calendar.yaml``), which a consumer is not handed."""
    event = CaseEvent.model_validate(envelope.payload)
    if service.follows_step(session, event.number, event.action):
        bus.schedule(session, FOLLOW, payload={"number": event.number, "action": event.action})


@job(FOLLOW)
def follow_case(ctx: JobContext) -> None:
    service.on_case_changed(ctx.session, str(ctx.payload["number"]), str(ctx.payload["action"]),
                            cal=calendar_for(ctx.settings.home))  # fmt: skip


@job(OFFERS, every=lambda s: s.onething.offer_seconds)
def make_offers(ctx: JobContext) -> None:
    service.make_offers(ctx.session, ctx.settings, ops.keys_for(ctx.settings.masking_key))
