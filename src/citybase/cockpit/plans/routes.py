from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from citybase.cockpit.indicators.schemas import Progress
from citybase.cockpit.plans import service
from citybase.cockpit.plans.auth import Manager, Reader
from citybase.cockpit.plans.schemas import ImportResult, PlanRead
from citybase.cockpit.tasks.schemas import MissingUpdate, TaskRead
from citybase.core.identity.service import actor_of
from citybase.core.web.deps import AppSettings, DbSession

router = APIRouter(prefix="/api/v1/cockpit", tags=["plan supervision"])


class PlanDetail(BaseModel):
    plan: PlanRead
    indicators: list[Progress]
    tasks: list[TaskRead]


@router.get("/plans")
def list_plans(session: DbSession, principal: Reader) -> list[PlanRead]:
    return service.list_plans(session)


@router.get("/plans/{code}")
def get_plan(session: DbSession, principal: Reader, code: str) -> PlanDetail:
    """The plan with where each of its indicators stands and its tasks."""
    [found] = service.overview(session, [code])
    return PlanDetail(plan=found.plan, indicators=found.indicators, tasks=found.tasks)


@router.post(
    "/plans", status_code=201, response_model=ImportResult,
    responses={422: {"model": ImportResult, "description": "Problems; nothing was loaded"}},
)  # fmt: skip
def import_plan(
    session: DbSession,
    principal: Manager,
    text: str = Body(media_type="application/yaml", description="A plan file, as YAML"),
) -> Any:
    """Load (or load again) a plan from its YAML file: all of it or, with problems, nothing."""
    result = service.import_plan(session, actor_of(principal), "api.yaml", text)
    if result.problems:
        return JSONResponse(result.model_dump(mode="json"), status_code=422)
    return result


@router.get("/reminders")
def reminders(
    session: DbSession, principal: Reader, settings: AppSettings, today: date | None = None
) -> list[MissingUpdate]:
    """Lead units whose monthly task update is past its deadline."""
    return service.missing_updates(session, today, settings.cockpit.update_day)
