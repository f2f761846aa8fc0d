from __future__ import annotations

from sqlalchemy import Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base


class SharedKey(Base):
    """A count in a window or a one-time claim, shared by every process (``core/shared``): a
    rate limit's calls, a spent picture code, an NGSI-LD subscription's throttle. The row is
    meaningless once ``expires_at`` (seconds since the epoch) has passed and is dropped later."""

    __tablename__ = "shared_keys"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class SharedValue(Base):
    """A short-lived value every process reads (``core/shared``): the progress of a stored job
    or of a long request, written by the process doing the work, read by whichever answers the
    page. Meaningless once ``expires_at`` has passed."""

    __tablename__ = "shared_values"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[float] = mapped_column(Float, index=True)
