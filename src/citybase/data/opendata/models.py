from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, TimestampMixin


class OpenApplication(IdMixin, TimestampMixin, Base):
    """An application to use a conditionally open resource (有条件开放申请)."""

    __tablename__ = "open_applications"

    number: Mapped[str] = mapped_column(String(20), unique=True)
    resource_code: Mapped[str] = mapped_column(String(40), index=True)
    provider_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    applicant: Mapped[str] = mapped_column(String(100))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    credit_code: Mapped[str] = mapped_column(String(18), default="")
    email: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(20), default="")
    purpose: Mapped[str] = mapped_column(Text)
    scenario: Mapped[str] = mapped_column(Text, default="")  # 应用场景
    days: Mapped[int] = mapped_column(default=90)  # how long the data is wanted
    status: Mapped[str] = mapped_column(String(20), index=True, default="pending")
    tracking_hash: Mapped[str] = mapped_column(String(64))  # the applicant's token, hashed
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decided_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    valid_until: Mapped[datetime | None]
    downloads: Mapped[int] = mapped_column(default=0)
