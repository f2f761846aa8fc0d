"""The base libraries' shapes: runs and their model, files with their fields' provenance, the
review queue."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from citybase.data.baselib.linkage import Kind

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
    model: dict[str, Any] = Field(
        description="prior, blocking_rules, training_rules, and per comparison its levels with "
        "m, u and match weight (log2 m/u)"
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
