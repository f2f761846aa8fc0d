from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType, TimestampMixin


class AuthoritativeSource(IdMixin, TimestampMixin, Base):
    """The unit that is the one source of a kind of data, recognized by its data elements."""

    __tablename__ = "data_sources"

    data_kind: Mapped[str] = mapped_column(String(100), unique=True)
    unit_code: Mapped[str] = mapped_column(String(40), index=True)
    elements: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    legal_basis: Mapped[str] = mapped_column(Text, default="")


class SourceConflict(IdMixin, Base):
    """A resource providing a kind of data whose authoritative source is another unit."""

    __tablename__ = "data_source_conflicts"
    __table_args__ = (UniqueConstraint("resource_code", "data_kind"),)

    resource_code: Mapped[str] = mapped_column(String(40), index=True)
    data_kind: Mapped[str] = mapped_column(String(100))
    provider_unit_code: Mapped[str] = mapped_column(String(40))
    authoritative_unit_code: Mapped[str] = mapped_column(String(40))
    items: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    detected_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    decision: Mapped[str] = mapped_column(String(30), default="")
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None]
