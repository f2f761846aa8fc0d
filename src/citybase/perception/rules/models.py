from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType, TimestampMixin, utcnow


class Rule(IdMixin, TimestampMixin, Base):
    """A judgement over readings: a threshold held for a while, a rate of change, silence, a
    geofence, or the anomaly detector's score — for one device or every device of a type."""

    __tablename__ = "perception_rules"

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    type_code: Mapped[str] = mapped_column(String(40), default="", index=True)
    device_id: Mapped[str] = mapped_column(String(100), default="", index=True)
    attr: Mapped[str] = mapped_column(String(40), default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    level: Mapped[str] = mapped_column(String(10), default="warning")
    alarm_kind: Mapped[str] = mapped_column(String(40), default="")
    active: Mapped[bool] = mapped_column(default=True)


class RuleState(Base):
    """What a rule remembers of one device between readings."""

    __tablename__ = "perception_rule_states"

    rule_id: Mapped[int] = mapped_column(
        ForeignKey("perception_rules.id", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    since: Mapped[datetime | None] = mapped_column(doc="When the condition began to hold")
    last_ts: Mapped[datetime | None]
    last_value: Mapped[float | None]
    detector: Mapped[dict[str, Any] | None] = mapped_column(
        JSONType, default=None, doc="What an anomaly rule's detector has learnt of the series"
    )
    detector_version: Mapped[int] = mapped_column(
        default=0, server_default="0", doc="Counts the writes of ``detector``"
    )
    detector_writer: Mapped[str] = mapped_column(
        String(100), default="", server_default="", doc="The process that wrote it last"
    )
    detector_written_at: Mapped[datetime | None] = mapped_column(default=None)


class AlarmRecord(IdMixin, Base):
    """An alarm: raised when a rule's condition holds, closed when it no longer does."""

    __tablename__ = "perception_alarms"
    __table_args__ = (UniqueConstraint("rule_id", "device_id", "opened_at"),)

    rule_id: Mapped[int] = mapped_column(
        ForeignKey("perception_rules.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[str] = mapped_column(String(100), index=True)
    attr: Mapped[str] = mapped_column(String(40), default="")
    level: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(40), default="")
    message: Mapped[str] = mapped_column(String(500))
    value: Mapped[float | None]
    opened_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    closed_at: Mapped[datetime | None]
