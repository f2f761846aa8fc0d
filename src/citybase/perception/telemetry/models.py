from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, BigIntPK, IdMixin


class Series(Base):
    """One attribute of one device: the key its readings are stored under."""

    __tablename__ = "perception_series"
    __table_args__ = (UniqueConstraint("device_id", "attr"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(100), index=True)
    attr: Mapped[str] = mapped_column(String(40))


class Reading(Base):
    """One reading: a series, a time in milliseconds since the epoch, and a number (booleans as
    0/1) or a text. Keyed by series and time, so a reading delivered twice is stored once."""

    __tablename__ = "perception_readings"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 -- SQLAlchemy's own dict

    series_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("perception_series.id", ondelete="CASCADE"), primary_key=True,
    )  # fmt: skip
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(String(500))


class Latest(Base):
    """The newest reading of each series."""

    __tablename__ = "perception_latest"

    series_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("perception_series.id", ondelete="CASCADE"), primary_key=True,
    )  # fmt: skip
    ts: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(String(500))


class DeadLetter(IdMixin, Base):
    """A message from a device that could not be stored (not understood, or refused): kept as it
    came — its topic and payload, cut to ``PAYLOAD_LIMIT`` bytes — with the reason, so that an
    operator can see what a device sends wrong. Kept; the broker has been answered."""

    __tablename__ = "perception_dead_letters"

    PAYLOAD_LIMIT = 4096

    topic: Mapped[str] = mapped_column(String(300))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    payload_size: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(40), index=True)
    device_id: Mapped[str | None] = mapped_column(String(100), index=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
