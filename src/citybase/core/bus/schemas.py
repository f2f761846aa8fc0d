from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


class Event(BaseModel):
    """A domain event. Subclasses set ``topic`` (``layer.domain.thing.verb``) and their fields."""

    model_config = ConfigDict(frozen=True)

    topic: ClassVar[str]

    event_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class EventEnvelope(BaseModel):
    """An event as it travels: its topic, id and payload (the event's own fields)."""

    event_id: str
    topic: str
    payload: dict[str, Any]
    created_at: datetime


class OutboxStatus(BaseModel):
    pending: int
    dispatched: int
    failing: int
    parked: int


class JobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    key: str | None
    run_at: datetime
    interval_seconds: int | None
    status: str
    attempts: int
    last_error: str


class JobProgress(BaseModel):
    """How far a stored job got: ``done`` of ``total`` (in the job's own units; 0 of 0 before
    its first report), what it is doing, and the seconds it has run and likely has left."""

    id: int
    kind: str
    status: str
    done: float
    total: float
    what: str
    elapsed_seconds: float
    remaining_seconds: float | None
    last_error: str

    @property
    def share(self) -> float | None:
        return min(self.done / self.total, 1.0) if self.total > 0 else None


class DeliveryFailureRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    consumer: str
    event_id: str
    attempts: int
    last_error: str
    next_attempt_at: datetime


class BusOverview(BaseModel):
    outbox: OutboxStatus
    failures: list[DeliveryFailureRead]
    jobs: list[JobRead]
