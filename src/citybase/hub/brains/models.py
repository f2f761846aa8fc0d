from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, utcnow


class HotSpot(IdMixin, Base):
    """Many cases of one kind in one district in a short time: an early warning, raised once a
    day for each kind and district, and the proactive task opened for it if any."""

    __tablename__ = "hub_hot_spots"
    __table_args__ = (UniqueConstraint("category_code", "district_code", "day"),)

    category_code: Mapped[str] = mapped_column(String(12))
    district_code: Mapped[str] = mapped_column(String(20), index=True)
    day: Mapped[str] = mapped_column(String(10), doc="The city's date it was raised on")
    count: Mapped[int]
    baseline: Mapped[float] = mapped_column(doc="Mean count per window over the weeks before")
    window_hours: Mapped[int]
    raised_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    case_number: Mapped[str] = mapped_column(String(32), default="")
