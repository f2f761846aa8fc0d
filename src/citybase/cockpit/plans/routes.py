from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from citybase.cockpit.indicators.schemas import IndicatorRead, IndicatorSpec, Progress
from citybase.cockpit.plans import service
from citybase.cockpit.plans.auth import Manager, Reader
from citybase.cockpit.plans.schemas import ImportResult, PlanDocument, PlanRead
from citybase.cockpit.tasks.schemas import MissingUpdate, TaskRead, TaskSpec
from citybase.core.identity.service import actor_of
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.params import Id, QueryDate

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


@router.put("/plans/{code}/document")
def edit_document(
    session: DbSession, principal: Manager, code: str, document: PlanDocument
) -> PlanRead:
    """Change what the plan's document says of itself; its indicators and tasks stay."""
    return service.edit_document(session, actor_of(principal), code, document)


@router.post("/plans/{code}/indicators", status_code=201)
def add_indicator(
    session: DbSession, principal: Manager, code: str, spec: IndicatorSpec
) -> IndicatorRead:
    """A new indicator at the end of the plan, checked as a plan file is."""
    return service.add_indicator(session, actor_of(principal), code, spec)


@router.put("/indicators/{indicator_id}")
def edit_indicator(
    session: DbSession, principal: Manager, indicator_id: Id, spec: IndicatorSpec
) -> IndicatorRead:
    """Change an indicator's definition (its code stays; its values are kept)."""
    return service.edit_indicator(session, actor_of(principal), indicator_id, spec)


@router.delete("/indicators/{indicator_id}", status_code=204)
def remove_indicator(session: DbSession, principal: Manager, indicator_id: Id) -> None:
    """Take an indicator out of its plan; 409 when it holds reported values."""
    service.remove_indicator(session, actor_of(principal), indicator_id)


@router.post("/plans/{code}/tasks", status_code=201)
def add_task(session: DbSession, principal: Manager, code: str, spec: TaskSpec) -> TaskRead:
    """A new task at the end of the plan, checked as a plan file is."""
    return service.add_task(session, actor_of(principal), code, spec)


@router.put("/tasks/{task_id}")
def edit_task(session: DbSession, principal: Manager, task_id: Id, spec: TaskSpec) -> TaskRead:
    """Change a task's definition (its number stays; its updates are kept)."""
    return service.edit_task(session, actor_of(principal), task_id, spec)


@router.delete("/tasks/{task_id}", status_code=204)
def remove_task(session: DbSession, principal: Manager, task_id: Id) -> None:
    """Take a task out of its plan; 409 when it holds monthly updates."""
    service.remove_task(session, actor_of(principal), task_id)


@router.get("/reminders")
def reminders(
    session: DbSession, principal: Reader, settings: AppSettings, today: QueryDate = None
) -> list[MissingUpdate]:
    """Lead units whose monthly task update is past its deadline."""
    return service.missing_updates(session, today, settings.cockpit.update_day)
