"""A 12345 case closed by the hub is opened for its reporter to rate; rectifications past their
deadline are warned."""

from __future__ import annotations

from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.bus.schemas import EventEnvelope
from citybase.core.bus.service import JobContext
from citybase.services.evaluation import service


@bus.consumer("services.evaluation.on_case_changed", "hub.case.changed")
def on_case_changed(session: Session, envelope: EventEnvelope) -> None:
    if envelope.payload.get("to_state") == "closed":
        service.open_case(session, str(envelope.payload["number"]))


@bus.job("services.evaluation.warn_overdue", every=lambda s: s.evaluation.sweep_minutes * 60)
def warn_overdue(ctx: JobContext) -> None:
    service.warn_overdue(ctx.session)
