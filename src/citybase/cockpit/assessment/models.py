from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType


class AssessmentRules(IdMixin, Base):
    """How the bureau weighs a year's assessment: the parts, the scores of each state, the
    plans. One row per year; each change is on the ledger with what it was before."""

    __tablename__ = "cockpit_assessment_rules"

    year: Mapped[int] = mapped_column(unique=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JSONType)
    note: Mapped[str] = mapped_column(Text, default="")
    set_by: Mapped[str] = mapped_column(String(100))
    set_at: Mapped[datetime]
