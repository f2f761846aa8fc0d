from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType, TimestampMixin


class DeviceType(IdMixin, TimestampMixin, Base):
    """A kind of device and what it measures: attributes with their type, unit and valid
    range."""

    __tablename__ = "perception_device_types"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    attributes: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    offline_after_minutes: Mapped[int] = mapped_column(default=15)


class Device(IdMixin, TimestampMixin, Base):
    """One device in the city: its type, owner, place (WGS84), protocol and credential."""

    __tablename__ = "perception_devices"

    device_id: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    type_id: Mapped[int] = mapped_column(
        ForeignKey("perception_device_types.id", ondelete="RESTRICT"), index=True
    )
    owner_unit: Mapped[str] = mapped_column(String(40), default="", index=True)
    lon: Mapped[float | None]
    lat: Mapped[float | None]
    region_code: Mapped[str] = mapped_column(String(20), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    protocol: Mapped[str] = mapped_column(String(20), default="http")
    secret_hash: Mapped[str] = mapped_column(String(64), default="")
    # the same credential as Mosquitto's password file keeps it (PBKDF2-SHA512, ``$7$``): made
    # when the credential is, since the credential itself is never kept
    broker_hash: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(index=True)
