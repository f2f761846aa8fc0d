from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from citybase.cockpit.assessment import service
from citybase.cockpit.assessment.schemas import Assessment, RulesIn, RulesRead
from citybase.cockpit.plans.auth import Manager, Reader
from citybase.core.web.deps import AppSettings, DbSession

router = APIRouter(prefix="/api/v1/cockpit/assessment", tags=["plan supervision"])

Year = Annotated[int, Path(ge=service.FIRST_YEAR, le=service.LAST_YEAR)]


@router.get("/{year}")
def assess(session: DbSession, principal: Reader, settings: AppSettings, year: Year) -> Assessment:
    """The year's assessment of units (年度考核): each unit's parts, total, rank and the items
    that gave them, by the year's rules."""
    return service.assess(session, year, update_day=settings.cockpit.update_day)


@router.get("/{year}/rules")
def get_rules(session: DbSession, principal: Reader, year: Year) -> RulesRead:
    return service.rules_for(session, year)


@router.put("/{year}/rules")
def set_rules(session: DbSession, principal: Manager, year: Year, data: RulesIn) -> RulesRead:
    """The bureau sets how the year is weighed (on the ledger, with what it replaced)."""
    return service.set_rules(session, principal, year, data)
