from __future__ import annotations

from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType, TimestampMixin


class EventCategory(IdMixin, TimestampMixin, Base):
    """One category of the event taxonomy: 大类 (2-digit code), 小类 (4) or 细类 (6), each code
    beginning with its parent's."""

    __tablename__ = "hub_event_categories"

    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[int]
    parent_code: Mapped[str | None] = mapped_column(String(12), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
