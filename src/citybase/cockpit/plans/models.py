from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType, TimestampMixin


class Plan(IdMixin, TimestampMixin, Base):
    """One plan document (规划、行动方案、工作要点): who issued it, for which years and city."""

    __tablename__ = "cockpit_plans"

    code: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # plan, action_plan, work_points
    issuer: Mapped[str] = mapped_column(String(200))
    document_number: Mapped[str] = mapped_column(String(100), default="")
    issued_on: Mapped[date | None]
    start_year: Mapped[int]
    end_year: Mapped[int]
    city: Mapped[str] = mapped_column(String(40), index=True)
    region_code: Mapped[str] = mapped_column(String(20), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    goals: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    source: Mapped[str] = mapped_column(String(200), default="")
    imported_by: Mapped[str] = mapped_column(String(100))
    revision: Mapped[int] = mapped_column(default=1)
