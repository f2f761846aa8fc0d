from __future__ import annotations

from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType, TimestampMixin


class DispatchRule(IdMixin, TimestampMixin, Base):
    """One line of the dispatch catalog (派单目录): cases of a category (a code prefix; empty for
    any) in a region (and the regions under it) go to a lead unit, with support units and the
    deadlines for each urgency."""

    __tablename__ = "hub_dispatch_rules"
    __table_args__ = (UniqueConstraint("category_code", "region_code"),)

    category_code: Mapped[str] = mapped_column(String(12), default="")
    region_code: Mapped[str] = mapped_column(String(20))
    lead_unit: Mapped[str] = mapped_column(String(40), index=True)
    support_units: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    deadlines: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    note: Mapped[str] = mapped_column(String(200), default="")
