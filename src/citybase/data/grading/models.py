from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType


class Grading(IdMixin, Base):
    """A resource's category and level: the scanner's proposal and the steward's decision."""

    __tablename__ = "data_gradings"

    resource_code: Mapped[str] = mapped_column(String(40), unique=True)
    domain: Mapped[str] = mapped_column(String(40), default="")  # 行业领域
    business: Mapped[str] = mapped_column(String(100), default="")  # 业务属性
    proposed_level: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    findings: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    sample_rows: Mapped[int] = mapped_column(default=0)
    scanned_by: Mapped[str] = mapped_column(String(100))
    scanned_at: Mapped[datetime]
    level: Mapped[str | None] = mapped_column(String(20), index=True)
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None]
