from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from citybase.core.bus.schemas import Event
from citybase.core.values import NonNegativeInt64


class RowsLoaded(Event):
    """A resource's rows were loaded (replaced) or cleared: derived data (the base libraries)
    brings itself up to date with them."""

    topic: ClassVar[str] = "data.datastore.rows.loaded"

    code: str
    unit_code: str  # the provider unit whose rows these are
    load_number: int  # 0: cleared
    rows: int


class Column(BaseModel):
    name: str
    type: str  # the data item's type: string, integer, decimal, date, datetime, boolean


class TableRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    resource_code: str
    columns: list[Column]
    row_count: int
    load_number: int
    source: str
    loaded_by: str
    loaded_at: datetime
    scanned: list[str] = Field(default_factory=list, exclude=True)
    scan_version: int = Field(default=0, exclude=True)


class CellProblem(BaseModel):
    row: int = Field(description="Row in the file, counting the header as row 1")
    column: str
    value: str
    message: str


class LoadReport(BaseModel):
    rows: int
    columns: list[str]
    problems: list[CellProblem]
    loaded: bool


class Direction(StrEnum):
    asc = "asc"
    desc = "desc"


class RowQuery(BaseModel):
    """Rows whose columns equal the given values, one page, optionally ordered by a column."""

    filters: dict[str, Any] = Field(default_factory=dict)
    q: str = Field("", max_length=200, description="Text that some column must contain")
    fields: list[str] = Field(default_factory=list, description="Columns to return (all if empty)")
    sort: str | None = None
    direction: Direction = Direction.asc
    limit: int = Field(100, ge=0, le=10_000)
    offset: NonNegativeInt64 = 0


class RowPage(BaseModel):
    total: int
    columns: list[Column]
    rows: list[dict[str, Any]]
    found: list[dict[str, Any] | None] | None = Field(
        default=None, exclude=True,
        description="For the platform's masking only, never sent: per row, the personal data "
        "found in its free-text cells when stored (column → [[kind, start, end], …])",
    )  # fmt: skip
    scanned: list[str] = Field(
        default_factory=list, exclude=True,
        description="The columns whose ``found`` can be trusted (scanned by the current "
        "recognizers)",
    )  # fmt: skip
