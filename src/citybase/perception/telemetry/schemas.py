from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from citybase.core.values import DateTime


class ReadingIn(BaseModel):
    """Readings of one device at one moment: attribute → value."""

    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(max_length=100)
    ts: DateTime | None = Field(None, description="When measured (with a zone); empty: now")
    values: dict[str, Any] = Field(description="attribute → number, true/false or text")


class Reading(Protocol):
    """What ``ingest`` reads of a reading: a ``ReadingIn``, or a ``PlainReading`` made by a fast
    parser."""

    @property
    def device_id(self) -> str: ...
    @property
    def ts(self) -> datetime | None: ...
    @property
    def values(self) -> dict[str, Any]: ...


@dataclass(slots=True)
class PlainReading:
    device_id: str
    ts: datetime | None
    values: dict[str, Any]


class Rejected(BaseModel):
    index: int = Field(description="Position in the batch (0-based)")
    device_id: str
    reason: str


class IngestReport(BaseModel):
    accepted: int
    rejected: list[Rejected]


class DeadLetterRead(BaseModel):
    """A device message that could not be stored, kept with the reason."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    topic: str
    payload: str = Field(description="The payload as text (bytes that are not UTF-8 replaced), "
                         "cut to 4,096 bytes")  # fmt: skip
    payload_size: int = Field(description="The payload's whole size in bytes")
    reason: str
    kind: str = Field(description="The reason's short name, as counted on /metrics")
    device_id: str | None
    received_at: datetime

    @field_validator("payload", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class DeadLetterPage(BaseModel):
    total: int
    page: int
    per_page: int
    items: list[DeadLetterRead]


class Point(BaseModel):
    ts: datetime
    value: float | None
    text: str | None = None


class LatestValue(BaseModel):
    attr: str
    ts: datetime
    value: float | None
    text: str | None = None


class Agg(StrEnum):
    avg = "avg"
    min = "min"
    max = "max"
    sum = "sum"
    count = "count"  # type: ignore[assignment]  # str.count, shadowed on purpose


class Bucket(BaseModel):
    start: datetime
    value: float | None
    count: int


@dataclass(frozen=True, slots=True)
class Accepted:
    """A stored reading — one device at one moment, its values — for the rules to judge (a plain
    record: there are many of them)."""

    device_id: str
    ts: datetime
    values: dict[str, Any]


def as_epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_epoch_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
