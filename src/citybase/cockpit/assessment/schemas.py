from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

Score = Annotated[float, Field(ge=0, le=100)]


class Parts(BaseModel):
    """How much each part weighs in a unit's total (any scale: they are normalised)."""

    model_config = ConfigDict(extra="forbid")

    indicators: Score = Field(40, description="Indicators the unit reports")
    tasks: Score = Field(40, description="Tasks the unit leads")
    updates: Score = Field(20, description="Monthly updates sent on the tasks it leads")

    @model_validator(mode="after")
    def _something_counts(self) -> Parts:
        if self.indicators + self.tasks + self.updates <= 0:
            raise ValueError("at least one part must weigh something")
        return self


class IndicatorScores(BaseModel):
    """What an indicator scores by where its latest value of the year stands."""

    model_config = ConfigDict(extra="forbid")

    green: Score = 100
    yellow: Score = 60
    red: Score = 0
    unreported: Score = Field(0, description="No approved value for the year")


class TaskScores(BaseModel):
    """What a task scores by its state at the year's end (or today, for the current year)."""

    model_config = ConfigDict(extra="forbid")

    done_on_time: Score = 100
    done_late: Score = 60
    on_track: Score = Field(100, description="Not finished, not past its deadline or milestones")
    overdue: Score = 0


class RulesIn(BaseModel):
    """The bureau's weighting of one year's assessment (年度考核)."""

    model_config = ConfigDict(extra="forbid")

    parts: Parts = Field(default_factory=Parts)
    indicator_scores: IndicatorScores = Field(default_factory=IndicatorScores)
    task_scores: TaskScores = Field(default_factory=TaskScores)
    plan_weights: dict[str, Annotated[float, Field(ge=0, le=10)]] = Field(
        default_factory=dict,
        description="Plan code → weight of its indicators and tasks (1 when not named; 0 leaves "
        "the plan out)",
    )
    note: str = Field("", max_length=2000, description="Why the bureau weighs it so")


class RulesRead(RulesIn):
    year: int
    set_by: str = Field("", description="Empty while the defaults stand")
    set_at: datetime | None = None


class Item(BaseModel):
    """One thing a unit is scored on, with the state that gave its score."""

    kind: str = Field(description="indicator, task or updates")
    plan_code: str
    plan_title: str
    ref: int = Field(description="The indicator's or task's id")
    name: str
    state: str
    detail: str = ""
    score: float
    weight: float


class UnitResult(BaseModel):
    unit_code: str
    name: str
    indicators: float | None
    tasks: float | None
    updates: float | None
    total: float | None
    rank: int | None
    items: list[Item]


class Assessment(BaseModel):
    year: int
    as_of: date
    rules: RulesRead
    plans: list[str] = Field(description="The plans in force in the year that were counted")
    units: list[UnitResult]
