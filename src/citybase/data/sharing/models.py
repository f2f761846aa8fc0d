from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType, TimestampMixin


class ShareRequest(IdMixin, TimestampMixin, Base):
    """A unit's request to read another unit's resource (共享申请)."""

    __tablename__ = "share_requests"

    number: Mapped[str] = mapped_column(String(20), unique=True)
    resource_code: Mapped[str] = mapped_column(String(40), index=True)
    provider_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    consumer_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    requested_by: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    fields: Mapped[list[Any]] = mapped_column(JSONType)
    days: Mapped[int]
    api_key_ids: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(20), index=True)
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decided_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")


class ShareGrant(IdMixin, Base):
    """What a request was granted: the fields, the systems and the time (共享授权)."""

    __tablename__ = "share_grants"

    request_id: Mapped[int] = mapped_column(ForeignKey("share_requests.id"), unique=True)
    resource_code: Mapped[str] = mapped_column(String(40), index=True)
    provider_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    consumer_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    fields: Mapped[list[Any]] = mapped_column(JSONType)
    api_key_ids: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    granted_at: Mapped[datetime]
    valid_until: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str] = mapped_column(String(100), default="")
    revoke_reason: Mapped[str] = mapped_column(Text, default="")
