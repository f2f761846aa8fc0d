from __future__ import annotations

from fastapi import APIRouter

from citybase.cockpit.indicators import service
from citybase.cockpit.indicators.schemas import (
    ActualCreate,
    ActualRead,
    Correction,
    Decision,
    Progress,
)
from citybase.cockpit.plans.auth import Manager, Reader, Reporter
from citybase.core.web.deps import DbSession
from citybase.core.web.params import Id

router = APIRouter(prefix="/api/v1/cockpit", tags=["plan supervision"])


@router.get("/indicators/{indicator_id}")
def get_indicator(session: DbSession, principal: Reader, indicator_id: Id) -> Progress:
    """The indicator, its latest approved value, this year's target, status and forecast."""
    return service.progress_of(session, indicator_id)


@router.get("/indicators/{indicator_id}/actuals")
def history(session: DbSession, principal: Reader, indicator_id: Id) -> list[ActualRead]:
    """Every value reported for it, every version."""
    return service.history(session, indicator_id)


@router.post("/indicators/{indicator_id}/actuals", status_code=201)
def report(
    session: DbSession, principal: Reporter, indicator_id: Id, data: ActualCreate
) -> ActualRead:
    """Report the value for a period; it waits for the bureau's approval."""
    return service.report(session, principal, indicator_id, data)


@router.post("/indicators/{indicator_id}/actuals/{period}/corrections", status_code=201)
def correct(
    session: DbSession, principal: Reporter, indicator_id: Id, period: str, data: Correction
) -> ActualRead:
    """A new version of a period's value, with the reason the last was wrong."""
    return service.correct(session, principal, indicator_id, period, data)


@router.get("/actuals")
def pending(session: DbSession, principal: Manager) -> list[ActualRead]:
    """Reported values awaiting the bureau's decision, oldest first."""
    return service.pending(session)


@router.post("/actuals/{actual_id}/decision")
def decide(session: DbSession, principal: Manager, actual_id: Id, data: Decision) -> ActualRead:
    return service.decide(session, principal, actual_id, data)


@router.post("/indicators/{indicator_id}/measure")
def measure_now(session: DbSession, principal: Manager, indicator_id: Id) -> ActualRead | None:
    """The platform measures this month's figure as it stands, to be reviewed; null when the
    month already holds that figure, 409 when there is nothing to count from yet."""
    return service.measure_now(session, principal, indicator_id)
