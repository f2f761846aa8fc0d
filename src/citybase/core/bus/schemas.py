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
