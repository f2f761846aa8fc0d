from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from citybase.cockpit.indicators.schemas import SourceRef
from citybase.core import values
from citybase.core.bus.schemas import Event
from citybase.core.values import Date

MONTH = rf"^{values.MONTH}$"


class TaskStatus(StrEnum):
    not_started = "not_started"
    in_progress = "in_progress"
    done = "done"
    suspended = "suspended"


class MilestoneSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    due: Date


class TaskSpec(BaseModel):
    """A task as a plan file states it."""

    model_config = ConfigDict(extra="forbid")

    number: str = Field(min_length=1, max_length=20)
    title: str = Field(min_length=1, max_length=300)
    summary: str = ""
    category: str = Field(default="", max_length=100)
    source: SourceRef | None = Field(
        default=None, description="Where it was taken from: file, section, sentence as published"
    )
    lead: list[str] = Field(
        default_factory=list,
        description="Lead units (牵头单位), codes or names; none only when the cited text names none",
    )
    support: list[str] = Field(default_factory=list, description="Support units (配合单位)")
    others: list[str] = Field(
        default_factory=list,
        description="Those the text makes responsible collectively, in its words "
        "(市直各有关单位, 各县(市)区政府): no one unit of the register answers for them",
    )
    due: Date | None = None
    targets: list[str] = Field(default_factory=list, description="The numeric targets it names")
    milestones: list[MilestoneSpec] = Field(default_factory=list)

    @field_validator("lead")
    @classmethod
    def _someone_leads(cls, lead: list[str], info: ValidationInfo) -> list[str]:
        if not lead and info.data.get("source") is None:
            raise ValueError("a task names its lead unit, unless its source is cited to show "
                             "that the text names none")  # fmt: skip
        return lead


class Milestone(BaseModel):
    title: str
    due: date
    done_on: date | None = None
    overdue: bool = False


class TaskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    plan_id: int
    number: str
    title: str
    summary: str
    category: str
    lead_units: list[str]
    support_units: list[str]
    other_units: list[str]
    due: date | None
    targets: list[str]
    milestones: list[Milestone]
    source: SourceRef | None
    status: TaskStatus
    progress: int
    overdue: bool = False


class UpdateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str = Field(pattern=MONTH, description='The month it reports on, "2025-06"')
    text: str = Field(min_length=2, description="What was done this month")
    progress: int = Field(ge=0, le=100, description="How far along the task is, in per cent")
    status: TaskStatus = TaskStatus.in_progress
    problems: str = Field(default="", description="What blocks it, and the help it needs")
    milestones_done: list[str] = Field(default_factory=list, description="Milestones now met")


class UpdateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    task_id: int
    period: str
    unit_code: str
    text: str
    progress: int
    status: TaskStatus
    problems: str
    milestones_done: list[str]
    reported_by: str
    reported_at: datetime


class MissingUpdate(BaseModel):
    """A lead unit that has not reported on a task for a month whose deadline has passed."""

    task_id: int
    plan_code: str
    number: str
    title: str
    unit_code: str
    period: str
    due: date
    reminded_at: datetime | None = None


class UpdateMissing(Event):
    """A lead unit's monthly update on a task is past its deadline: remind the unit."""

    topic: ClassVar[str] = "cockpit.tasks.update.missing"

    task_id: int
    plan_code: str
    number: str
    title: str
    unit_code: str
    period: str
    due: date
