from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, BigIntPK, IdMixin, JSONType


class Task(IdMixin, Base):
    """One task of a plan (重点任务): what is to be done, by which lead and support units."""

    __tablename__ = "cockpit_tasks"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    plan_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("cockpit_plans.id"), index=True)
    number: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(100), default="")
    lead_units: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    support_units: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    other_units: Mapped[list[Any]] = mapped_column(JSONType, default=list)  # named collectively
    due: Mapped[date | None]
    targets: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    milestones: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    source: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # file, section, quote
    status: Mapped[str] = mapped_column(String(12), default="not_started")
    progress: Mapped[int] = mapped_column(default=0)
    sort_order: Mapped[int] = mapped_column(default=0)


class TaskUpdate(IdMixin, Base):
    """A unit's monthly word on a task (月度进展): what was done, how far along, what blocks it."""

    __tablename__ = "cockpit_task_updates"
    __table_args__ = (UniqueConstraint("task_id", "period", "unit_code"),)

    task_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("cockpit_tasks.id"), index=True)
    period: Mapped[str] = mapped_column(String(7))  # "2025-06"
    unit_code: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    progress: Mapped[int]
    status: Mapped[str] = mapped_column(String(12))
    problems: Mapped[str] = mapped_column(Text, default="")
    milestones_done: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    reported_by: Mapped[str] = mapped_column(String(100))
    reported_at: Mapped[datetime]


class TaskReminder(IdMixin, Base):
    """A reminder sent to a lead unit whose monthly update on a task is late: once per unit,
    task and month, and published on the bus for whatever carries messages to the unit."""

    __tablename__ = "cockpit_task_reminders"
    __table_args__ = (UniqueConstraint("task_id", "unit_code", "period"),)

    task_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("cockpit_tasks.id"), index=True)
    unit_code: Mapped[str] = mapped_column(String(40), index=True)
    period: Mapped[str] = mapped_column(String(7))
    sent_at: Mapped[datetime]
