from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, BigIntPK, JSONType


class OutboxEvent(Base):
    """An event written in the transaction that caused it, delivered after it commits."""

    __tablename__ = "bus_outbox"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    topic: Mapped[str] = mapped_column(String(120), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime]
    # in-process bus: every consumer has handled it; NATS bus: it has been published to the stream
    dispatched_at: Mapped[datetime | None] = mapped_column(index=True)


class HandledEvent(Base):
    """That one consumer has applied one event, written in the same transaction as its effect."""

    __tablename__ = "bus_handled"
    __table_args__ = (UniqueConstraint("consumer", "event_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    consumer: Mapped[str] = mapped_column(String(120))
    event_id: Mapped[str] = mapped_column(String(36), index=True)
    handled_at: Mapped[datetime]


class DeliveryFailure(Base):
    """Failed attempts of one consumer on one event; parked after ``bus.max_attempts``."""

    __tablename__ = "bus_failures"
    __table_args__ = (UniqueConstraint("consumer", "event_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    consumer: Mapped[str] = mapped_column(String(120))
    event_id: Mapped[str] = mapped_column(ForeignKey("bus_outbox.event_id", ondelete="CASCADE"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime]


class Job(Base):
    """Work that must happen later or periodically: a stored row the worker claims and runs."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(120), index=True)
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    run_at: Mapped[datetime] = mapped_column(index=True)
    interval_seconds: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    last_error: Mapped[str] = mapped_column(Text, default="")
    locked_by: Mapped[str] = mapped_column(String(100), default="")
    locked_until: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
