from __future__ import annotations

from fastapi import APIRouter

from citybase.cockpit.plans.auth import Reader, Reporter
from citybase.cockpit.tasks import service
from citybase.cockpit.tasks.schemas import TaskRead, UpdateCreate, UpdateRead
from citybase.core.web.deps import DbSession
from citybase.core.web.params import Id

router = APIRouter(prefix="/api/v1/cockpit", tags=["plan supervision"])


@router.get("/tasks/{task_id}")
def get_task(session: DbSession, principal: Reader, task_id: Id) -> TaskRead:
    return service.get(session, task_id)


@router.get("/tasks/{task_id}/updates")
def updates(session: DbSession, principal: Reader, task_id: Id) -> list[UpdateRead]:
    return service.updates(session, task_id)


@router.post("/tasks/{task_id}/updates", status_code=201)
def report_update(
    session: DbSession, principal: Reporter, task_id: Id, data: UpdateCreate
) -> UpdateRead:
    """A unit's monthly word on the task (sent again for the same month, it replaces it)."""
    return service.report_update(session, principal, task_id, data)
