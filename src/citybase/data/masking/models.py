from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin


class MaskingRule(IdMixin, Base):
    """The bureau's choice of operator for one level and field kind, where it differs from the
    platform's default policy."""

    __tablename__ = "masking_rules"
    __table_args__ = (UniqueConstraint("level", "kind"),)

    level: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    op: Mapped[str] = mapped_column(String(20))
    first: Mapped[int] = mapped_column(default=0)
    last: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime]
