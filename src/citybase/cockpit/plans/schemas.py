from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from citybase.cockpit.indicators.schemas import CODE, IndicatorSpec
from citybase.cockpit.tasks.schemas import TaskSpec
from citybase.core.values import Date

_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):")


class PlanKind(StrEnum):
    plan = "plan"  # 规划
    action_plan = "action_plan"  # 行动方案、实施方案
    work_points = "work_points"  # 工作要点


class PlanDocument(BaseModel):
    """What a plan's document says of itself, apart from its indicators and tasks."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=2, max_length=200)
    kind: PlanKind = PlanKind.plan
    issuer: str = Field(min_length=2, max_length=200)
    document_number: str = Field(default="", max_length=100)
    issued_on: Date | None = None
    period: tuple[int, int] = Field(description="First and last year, [2021, 2025]")
    city: str = Field(min_length=2, max_length=40, description="The city it is for: 福州市")
    region: str = Field(
        default="", description="Its division code, when the city is in the register: 350100"
    )
    summary: str = ""
    goals: list[str] = Field(default_factory=list)
    source: str = Field(
        default="", max_length=200, description="Where it is published (https://…), or its file"
    )

    @field_validator("source")
    @classmethod
    def _web_address(cls, value: str) -> str:
        # shown as a link on the plan's pages: a javascript: or data: address would run there
        # (browsers skip blanks and control characters in a scheme, so this does too)
        scheme = _SCHEME.match(re.sub(r"[\x00-\x20]", "", value).lower())
        if scheme and scheme[1] not in ("http", "https"):
            raise ValueError("the source is an http(s) address (or the plan's file name)")
        return value.strip()

    @model_validator(mode="after")
    def _consistent(self) -> PlanDocument:
        start, end = self.period
        if not 1990 <= start <= end <= 2100:
            raise ValueError(f"period: {start}–{end} is not a span of years")
        return self


class PlanFile(PlanDocument):
    """A plan as its YAML file states it: the document, its indicators and its tasks."""

    code: str = Field(pattern=CODE)
    indicators: list[IndicatorSpec] = Field(default_factory=list)
    tasks: list[TaskSpec] = Field(default_factory=list)


class Problem(BaseModel):
    line: int | None = Field(description="Line in the file, when it can be told")
    field: str = Field(description="Where in the plan: indicators.3.targets.2025")
    message: str


class ImportResult(BaseModel):
    file: str
    plan_code: str = ""
    revision: int = 0
    indicators: int = 0
    tasks: int = 0
    problems: list[Problem] = Field(default_factory=list)
    applied: bool = False


class PlanRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    title: str
    kind: PlanKind
    issuer: str
    document_number: str
    issued_on: date | None
    start_year: int
    end_year: int
    city: str
    region_code: str
    summary: str
    goals: list[str]
    source: str
    imported_by: str
    revision: int
    updated_at: datetime
