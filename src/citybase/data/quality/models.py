from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType, TimestampMixin


class QualityRule(IdMixin, Base):
    """One check on one data item of a resource (质量规则)."""

    __tablename__ = "quality_rules"

    resource_code: Mapped[str] = mapped_column(String(40), index=True)
    item: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(default=True)


class QualityRun(IdMixin, Base):
    """The result of running a resource's rules over its rows: scores and what failed."""

    __tablename__ = "quality_runs"

    resource_code: Mapped[str] = mapped_column(String(40), index=True)
    run_at: Mapped[datetime] = mapped_column(index=True)
    run_by: Mapped[str] = mapped_column(String(100))
    rows: Mapped[int]
    checks: Mapped[int]
    failures: Mapped[int]
    score: Mapped[float]
    item_scores: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    results: Mapped[list[Any]] = mapped_column(JSONType, default=list)


class Dispute(IdMixin, TimestampMixin, Base):
    """A consumer's objection to a row or an item (申诉/纠错), answered by the provider."""

    __tablename__ = "quality_disputes"

    number: Mapped[str] = mapped_column(String(20), unique=True)
    resource_code: Mapped[str] = mapped_column(String(40), index=True)
    provider_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    consumer_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    raised_by: Mapped[str] = mapped_column(String(100))
    item: Mapped[str] = mapped_column(String(100), default="")
    row_filter: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    description: Mapped[str] = mapped_column(Text)
    proposed_value: Mapped[str] = mapped_column(Text, default="")
    deadline: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    response: Mapped[str] = mapped_column(Text, default="")
    responded_by: Mapped[str] = mapped_column(String(100), default="")
    responded_at: Mapped[datetime | None]
    overdue_warned_at: Mapped[datetime | None]
    seen_by_consumer: Mapped[bool] = mapped_column(default=False)
