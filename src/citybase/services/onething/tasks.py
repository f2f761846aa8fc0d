"""The one-thing service's background work: following its matters' cases on the bus, and the
daily look for persons the data says qualify for an item unasked (免申即办)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.bus.schemas import EventEnvelope
from citybase.core.bus.service import JobContext, job
from citybase.data.masking import operators as ops
from citybase.hub.cases.schemas import CaseEvent
from citybase.services.onething import service

OFFERS = "services.onething.offers"


@bus.consumer("services.onething.cases", CaseEvent.topic)
def on_case_changed(session: Session, envelope: EventEnvelope) -> None:
    event = CaseEvent.model_validate(envelope.payload)
    service.on_case_changed(session, event.number, event.action)


@job(OFFERS, every=lambda s: s.onething.offer_seconds)
def make_offers(ctx: JobContext) -> None:
    service.make_offers(ctx.session, ctx.settings, ops.keys_for(ctx.settings.masking_key))
