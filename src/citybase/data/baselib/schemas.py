"""The base libraries' shapes: runs and their model, files with their fields' provenance, the
review queue."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from citybase.data.baselib.linkage import Kind
from citybase.data.catalog.schemas import DataType, OpenType, ShareType

__all__ = ["Kind"]


class RunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: Kind
    started_at: datetime
    finished_at: datetime | None
    run_by: str
    resources: list[str]
    records: int
    pairs: int
    entities: int
    reviews: int
    conflicts: int
    match_threshold: float
    review_threshold: float
    incremental: bool = Field(
        False, description="new and changed rows of one resource linked against the kept model"
    )
    model: dict[str, Any] = Field(
        description="prior, blocking_rules, training_rules, and per comparison its levels with "
        "m, u and match weight (log2 m/u); kept: splink's settings of the trained model. An "
        "incremental run: the rows unchanged, linked, moved and removed, the files created, "
        "merged and changed. Either: seconds, reads (per resource: rows and the traced "
        "read's access-log id), disputes (the numbers raised), ledger (its entry's seq)"
    )
    error: str = Field(
        "",
        description="why the run failed (the exception's class and message, cut short); "
        "empty for a run that did not fail. A failed run's work was rolled back: it has no "
        "finished_at, and its model keeps only seconds and ledger",
    )


class FieldSource(BaseModel):
    value: str
    resource_code: str
    item: str
    unit_code: str
    observed_at: datetime | None


class FileField(BaseModel):
    """A field of a file as served: its value (masked as its source's grade says), where it
    came from and when, and whether that source is the authoritative one (一数一源)."""

    field: str
    value: Any
    masked: str = ""
    resource_code: str = Field(description="Where the chosen value comes from")
    unit_code: str
    observed_at: datetime | None
    served_from: str = Field("", description="The resource whose grant this read used")
    authoritative: bool
    conflicts: int = Field(0, description="How many other values the sources hold")
    dispute_number: str = ""


class LinkRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    record_uid: str
    resource_code: str
    row_no: int
    unit_code: str
    partner_uid: str
    probability: float | None
    weights: dict[str, float]
    levels: dict[str, str]


class FileRead(BaseModel):
    """一人一档 / 一企一档: one person's or enterprise's file."""

    id: int
    kind: Kind
    fields: list[FileField]
    withheld: list[str] = Field(description="Fields no grant of the reader's unit covers")
    withheld_why: dict[str, str] = Field(
        default_factory=dict, description="Why a withheld field was refused, where known"
    )
    legal_basis: list[str]
    links: list[LinkRead] = Field(description="The source rows (for the steward only)")
    access_id: int


class Decision(StrEnum):
    confirm = "confirm"  # the same person / enterprise
    apart = "split"  # not the same


class ReviewStatus(StrEnum):
    open = "open"
    confirmed = "confirmed"
    apart = "split"


class ReviewDecide(BaseModel):
    decision: Decision
    reason: str = Field(min_length=2, max_length=2000)


class ReviewRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: Kind
    left_uid: str
    right_uid: str
    probability: float
    weight: float
    weights: dict[str, float]
    levels: dict[str, str]
    status: ReviewStatus
    decided_by: str
    decided_at: datetime | None
    reason: str


# --- theme libraries (主题库) ----------------------------------------------------------------------

ALIAS = r"^[a-z][a-z0-9_]{0,19}$"
THEME_CODE = r"^[a-z][a-z0-9-]{1,39}$"


class ThemeJoin(BaseModel):
    """How a source's rows meet the rows built so far: by equal columns (``on``: a column of an
    earlier source → a column of this one), or by the base-library file both rows are linked
    to (``entity``)."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(pattern=ALIAS, description="The alias of an earlier source")
    on: dict[str, str] = Field(default_factory=dict, description="earlier column → this column")
    entity: Kind | None = Field(None, description="Join through the base library's file")
    how: str = Field("left", pattern="^(left|inner)$", description="left: keep unmatched rows")


class ThemeSource(BaseModel):
    """A catalog resource (``resource``) or a base library's golden fields (``library``)."""

    model_config = ConfigDict(extra="forbid")

    alias: str = Field(pattern=ALIAS)
    resource: str = Field("", max_length=40, description="A catalog resource's code")
    library: Kind | None = Field(None, description="person or enterprise golden fields")
    fields: list[str] = Field(default_factory=list, description="The library's fields used")
    join: ThemeJoin | None = None


class ThemeFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str = Field(description="alias.column")
    op: str = Field("eq", pattern="^(eq|ne|in|not_in|gte|lte|contains|not_empty)$")
    value: Any = None


class ThemeColumn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    source: str = Field(description="alias.column (or alias.field of a library)")
    element: str = Field("", max_length=100, description="The data element (数据元) it follows")
    data_type: DataType = DataType.string
    length: int | None = Field(None, ge=1, le=100_000)
    meaning: str = Field("", max_length=2000)
    checks: list[str] = Field(default_factory=list, description="not_null, unique")

    @field_validator("checks")
    @classmethod
    def _checks(cls, value: list[str]) -> list[str]:
        for check in value:
            if check not in ("not_null", "unique"):
                raise ValueError(f"{check} is not a check: not_null or unique")
        return value


class ThemeSpec(BaseModel):
    """A theme library's definition: what it is (its catalog metadata), whose it is, how often
    it is rebuilt, and how its rows are made from its sources."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=200)
    abstract: str = Field(min_length=10, max_length=4000)
    classification: str = Field(pattern=r"^2\d{5}\d{0,20}$",
                                description="分类码 of a 主题 resource (类 2)")  # fmt: skip
    owner_unit: str = Field(min_length=1, max_length=40)
    refresh_hours: int = Field(24, ge=1, le=8784)
    share_type: ShareType = ShareType.conditional
    share_condition: str = Field("共享给具有相应职责的单位", max_length=2000)
    open_type: OpenType = OpenType.none
    open_condition: str = Field("", max_length=2000)
    theme_tags: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    sources: list[ThemeSource] = Field(min_length=1, max_length=12)
    filters: list[ThemeFilter] = Field(default_factory=list)
    columns: list[ThemeColumn] = Field(min_length=1, max_length=200)


class ThemeCreate(BaseModel):
    code: str = Field(pattern=THEME_CODE, description="Short ASCII name, e.g. medical-care")
    spec: dict[str, Any] | str = Field(description="The definition, as JSON or YAML text")


class ThemeUpdate(BaseModel):
    spec: dict[str, Any] | str


class GradeReview(BaseModel):
    level: str = Field(description="The lower level (GB/T 43697-2024), or empty to withdraw")
    reason: str = Field(min_length=2, max_length=2000)


class ThemeBuildRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    version: int
    started_at: datetime
    finished_at: datetime | None
    built_by: str
    scheduled: bool
    status: str
    rows: int
    sources: list[dict[str, Any]]
    grade: str
    quality_score: float | None
    message: str


class LineageNode(BaseModel):
    key: str
    label: str
    kind: str  # resource, library, theme
    unit_code: str = ""
    level: str = ""
    href: str = ""


class ThemeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    owner_unit_code: str
    spec: dict[str, Any]
    version: int
    refresh_hours: int
    resource_code: str
    resource_status: str = ""
    source_grade: str
    reviewed_grade: str
    review_reason: str
    grade: str = Field("", description="The grade in force: the reviewed one, else the sources'")
    quality_score: float | None
    rows: int
    last_built_at: datetime | None
    next_due_at: datetime | None
    built_by: str
    lineage: list[LineageNode] = Field(default_factory=list)
