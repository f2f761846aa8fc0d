from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, BigIntPK, IdMixin, JSONType


class Indicator(IdMixin, Base):
    """One indicator of a plan (指标): its baseline, yearly targets and the units that report it."""

    __tablename__ = "cockpit_indicators"
    __table_args__ = (UniqueConstraint("plan_id", "code"),)

    plan_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("cockpit_plans.id"), index=True)
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    measure_unit: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(100), default="")
    baseline_year: Mapped[int | None]
    baseline_value: Mapped[float | None]
    targets: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # "2025" → value
    province_targets: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    comparator: Mapped[str] = mapped_column(String(2), default="")  # "", ">", "<", ">=", "<="
    direction: Mapped[str] = mapped_column(String(10))  # higher, lower
    nature: Mapped[str] = mapped_column(String(10))  # binding (约束性), expected (预期性)
    minimum: Mapped[float | None]
    maximum: Mapped[float | None]
    measure: Mapped[str] = mapped_column(String(60), default="")
    units: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    wording: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # the text's words
    source: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # file, section, quote
    sort_order: Mapped[int] = mapped_column(default=0)


class Actual(IdMixin, Base):
    """A value reported for one period (实际值). A correction is a new version with its reason;
    the bureau approves or rejects each version."""

    __tablename__ = "cockpit_actuals"
    __table_args__ = (UniqueConstraint("indicator_id", "period", "version"),)

    indicator_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("cockpit_indicators.id"), index=True
    )
    period: Mapped[str] = mapped_column(String(7))  # "2024" or "2024-06"
    version: Mapped[int]
    value: Mapped[float]
    source: Mapped[str] = mapped_column(String(200), default="")
    evidence: Mapped[str] = mapped_column(Text, default="")
    unit_code: Mapped[str] = mapped_column(String(40), default="")
    reported_by: Mapped[str] = mapped_column(String(100))
    reported_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), index=True)
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(Text, default="")
    measured: Mapped[bool] = mapped_column(default=False)
