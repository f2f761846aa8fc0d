from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.cockpit.tasks.models import Task, TaskReminder, TaskUpdate


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def delete(session: Session, obj: object) -> None:
    session.delete(obj)
    session.flush()


def get(session: Session, task_id: int) -> Task | None:
    return session.get(Task, task_id)


def of_plans(session: Session, plan_ids: Iterable[int]) -> list[Task]:
    return list(
        session.scalars(
            select(Task)
            .where(Task.plan_id.in_(list(plan_ids)))
            .order_by(Task.plan_id, Task.sort_order, Task.id)
        )
    )


def updates(
    session: Session, task_ids: Iterable[int], period: str | None = None
) -> list[TaskUpdate]:
    """The updates on the tasks: all of them, or those for one month."""
    query = select(TaskUpdate).where(TaskUpdate.task_id.in_(list(task_ids)))
    if period is not None:
        query = query.where(TaskUpdate.period == period)
    return list(session.scalars(query.order_by(TaskUpdate.task_id, TaskUpdate.period,
                                               TaskUpdate.id)))  # fmt: skip


def update_points(session: Session, task_ids: Iterable[int]) -> list[Any]:
    """Task, unit, period and status of every update on the tasks, without the rest."""
    query = select(
        TaskUpdate.task_id, TaskUpdate.unit_code, TaskUpdate.period, TaskUpdate.status
    ).where(TaskUpdate.task_id.in_(list(task_ids)))
    return list(session.execute(query))


def update_of(session: Session, task_id: int, period: str, unit_code: str) -> TaskUpdate | None:
    return session.scalar(
        select(TaskUpdate).where(
            TaskUpdate.task_id == task_id,
            TaskUpdate.period == period,
            TaskUpdate.unit_code == unit_code,
        )
    )


def count_updates(session: Session, task_id: int) -> int:
    found = session.scalar(
        select(func.count()).select_from(TaskUpdate).where(TaskUpdate.task_id == task_id)
    )
    return found or 0


def reminders(session: Session, period: str) -> dict[tuple[int, str], TaskReminder]:
    found = session.scalars(select(TaskReminder).where(TaskReminder.period == period))
    return {(r.task_id, r.unit_code): r for r in found}
