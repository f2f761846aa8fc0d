from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from citybase.core import values

CODE = r"^[a-z0-9][a-z0-9-]{0,59}$"
PERIOD = rf"^{values.YEAR}(-(0[1-9]|1[0-2]))?$"


class Direction(StrEnum):
    higher_is_better = "higher"  # more is better (网上可办率)
    lower_is_better = "lower"  # less is better (PUE)


class Nature(StrEnum):
    binding = "binding"  # 约束性
    expected = "expected"  # 预期性


class ActualStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    superseded = "superseded"


class Status(StrEnum):
    """Where an indicator stands against the straight path from its baseline to its targets."""

    green = "green"  # on or ahead of the path
    yellow = "yellow"  # behind, within a tenth of the way
    red = "red"  # further behind
    none = "none"  # nothing approved yet


class SourceRef(BaseModel):
    """Where in the published text a record was taken from: the file, its section and the
    sentence itself, quoted as published."""

    model_config = ConfigDict(extra="forbid")

    file: str = Field(min_length=1, max_length=200, description="The text's file or address")
    section: str = Field(default="", max_length=200, description="Chapter, section, table")
    quote: str = Field(default="", description="The sentence (or table row), as published")


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=1990, le=2100)
    value: float


class IndicatorSpec(BaseModel):
    """An indicator as a plan file states it."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE, description="Short code, unique within the plan")
    name: str = Field(min_length=1, max_length=200)
    unit: str = Field(default="", max_length=40, description="Unit of measure: %, 个, 亿条, P…")
    category: str = Field(default="", max_length=100)
    baseline: Baseline | None = None
    targets: dict[int, float] = Field(min_length=1, description="Year → target value")
    province_targets: dict[int, float] = Field(default_factory=dict)
    comparator: Literal["", ">", "<", ">=", "<="] = Field(
        default="",
        description='How the plan words the target: "> 65" for 超过65, "< 1.35" for 低于',
    )
    direction: Direction
    nature: Nature = Nature.expected
    range: tuple[float, float] | None = Field(
        default=None, description="Plausible values [min, max]; a % indicator defaults to [0, 100]"
    )
    measure: str = Field(default="", max_length=60, description="Filled by the platform: its key")
    units: list[str] = Field(default_factory=list, description="Units that report it")
    note: str = ""
    wording: dict[str, str] = Field(
        default_factory=dict,
        description="The text's own words for a figure that is not a plain number, beside the "
        'number entered: {"2025": "超过1000个", "baseline": "—"}',
    )
    source: SourceRef | None = None

    @model_validator(mode="after")
    def _consistent(self) -> IndicatorSpec:
        if self.range is not None and self.range[0] > self.range[1]:
            raise ValueError("range: the minimum is above the maximum")
        figures = {"baseline", *(str(y) for y in self.targets),
                   *(f"province-{y}" for y in self.province_targets)}  # fmt: skip
        for key in self.wording:
            if key not in figures:
                raise ValueError(f"wording: {key!r} is not the baseline, a target year or "
                                 f"province-<year> of this indicator")  # fmt: skip
        if self.baseline is not None and any(y <= self.baseline.year for y in self.targets):
            raise ValueError(f"targets: every target year comes after the baseline year "
                             f"{self.baseline.year}")  # fmt: skip
        return self


class IndicatorRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    plan_id: int
    code: str
    name: str
    measure_unit: str
    category: str
    baseline_year: int | None
    baseline_value: float | None
    targets: dict[str, float]
    province_targets: dict[str, float]
    comparator: str
    direction: Direction
    nature: Nature
    minimum: float | None
    maximum: float | None
    measure: str
    units: list[str]
    note: str
    wording: dict[str, str]
    source: SourceRef | None


class ActualCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str = Field(pattern=PERIOD, description='"2024" for a year, "2024-06" for a month')
    value: float
    unit: str = Field(default="", max_length=40, description="The unit it is reported in")
    source: str = Field(default="", max_length=200)
    evidence: str = Field(default="", description="Where it can be checked")


class Correction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: float
    unit: str = Field(default="", max_length=40)
    reason: str = Field(min_length=2, description="Why the approved value was wrong")
    source: str = Field(default="", max_length=200)
    evidence: str = ""


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool
    note: str = ""


class ActualRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    indicator_id: int
    period: str
    version: int
    value: float
    source: str
    evidence: str
    unit_code: str
    reported_by: str
    reported_at: datetime
    reason: str
    status: ActualStatus
    decided_by: str
    decided_at: datetime | None
    decision_note: str
    measured: bool


class Point(BaseModel):
    """One approved value on the indicator's path."""

    period: str
    value: float
    measured: bool = False


class Progress(BaseModel):
    """One indicator against its plan: the latest approved value, this year's target, the path."""

    indicator: IndicatorRead
    latest: ActualRead | None
    pending: int = Field(description="Reported values awaiting the bureau's decision")
    target_year: int | None
    target: float | None = Field(description="The target for this year, else the next one set")
    final_year: int
    final_target: float
    completion: float | None = Field(
        description="Latest value against this year's target, direction-aware (1.0 = met)"
    )
    expected: float | None = Field(description="Where the straight path puts the latest period")
    status: Status
    forecast: float | None = Field(description="The reported trend carried to the final year")
    forecast_meets: bool | None
    series: list[Point] = Field(
        default_factory=list, description="Every approved value, oldest period first"
    )
