"""A 12345 case closed by the hub, and a one-thing matter or application done, are opened for
its applicant to rate; rectifications past their deadline are warned."""

from __future__ import annotations

from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.bus.schemas import EventEnvelope
from citybase.core.bus.service import JobContext
from citybase.services.evaluation import service
from citybase.services.onething.schemas import ApplicationChanged, ApplicationState, MatterState


@bus.consumer("services.evaluation.on_case_changed", "hub.case.changed")
def on_case_changed(session: Session, envelope: EventEnvelope) -> None:
    if envelope.payload.get("to_state") == "closed":
        service.open_case(session, str(envelope.payload["number"]))


@bus.consumer("services.evaluation.on_onething_changed", ApplicationChanged.topic)
def on_onething_changed(session: Session, envelope: EventEnvelope) -> None:
    """A one-thing matter done, or its application completed: opened for its applicant."""
    event = ApplicationChanged.model_validate(envelope.payload)
    if event.matter_state == MatterState.done:
        service.open_onething(session, event.number, event.matter_code)
    if event.state == ApplicationState.completed:
        service.open_onething(session, event.number)


@bus.job("services.evaluation.warn_overdue", every=lambda s: s.evaluation.sweep_minutes * 60)
def warn_overdue(ctx: JobContext) -> None:
    service.warn_overdue(ctx.session)
