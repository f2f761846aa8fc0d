from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from citybase.core.identity.service import actor_of
from citybase.core.web.deps import DbSession
from citybase.core.web.params import Id
from citybase.perception.devices.auth import Manager, Reader
from citybase.perception.rules import service
from citybase.perception.rules.schemas import AlarmRead, ForecastRead, RuleIn, RuleRead

router = APIRouter(prefix="/api/v1/perception", tags=["perception"])


@router.get("/rules")
def rules(session: DbSession, principal: Reader) -> list[RuleRead]:
    return service.rules(session)


@router.post("/rules", status_code=201)
def create_rule(session: DbSession, principal: Manager, data: RuleIn) -> RuleRead:
    return service.put_rule(session, actor_of(principal), data)


@router.put("/rules/{rule_id}")
def update_rule(session: DbSession, principal: Manager, rule_id: Id, data: RuleIn) -> RuleRead:
    return service.put_rule(session, actor_of(principal), data, rule_id)


@router.get("/alarms")
def alarms(session: DbSession, principal: Reader, open_only: bool = False) -> list[AlarmRead]:
    """Alarms, newest first; ``open_only`` for those whose condition still holds."""
    return service.alarms(session, open_only=open_only)


@router.get("/devices/{device_id}/series/{attr}/forecast")
def forecast(
    session: DbSession,
    principal: Reader,
    device_id: str,
    attr: str,
    hours_back: Annotated[
        int, Query(ge=1, le=24 * 366, description="Hours of history (at most 14 days are used)")
    ] = service.FORECAST_HOURS_BACK,
    expected_hours: Annotated[
        int, Query(ge=0, le=72, description="Hours of the band expected of the recent readings")
    ] = 0,
) -> ForecastRead:
    """The next hour in 5-minute steps with 80 % and 95 % prediction intervals; with
    ``expected_hours``, the band expected of the readings of those last hours."""
    return service.forecast_series(session, device_id, attr, hours_back=min(hours_back, 24 * 14),
                                   expected_hours=expected_hours)  # fmt: skip
