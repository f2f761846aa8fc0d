from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType, TimestampMixin


class RatedSubject(IdMixin, TimestampMixin, Base):
    """Something an applicant may rate (评价对象): a 12345 case, a handled matter, a one-thing
    application — named by its kind and id in its own domain, with the unit that answers for it,
    the channel it was served through and who applied (a keyed hash, never the number itself)."""

    __tablename__ = "evaluation_subjects"
    __table_args__ = (UniqueConstraint("kind", "subject_id"),)

    kind: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(80))
    unit_code: Mapped[str] = mapped_column(String(40), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200), default="")
    applicant_key: Mapped[str] = mapped_column(String(80), default="")
    handled_at: Mapped[datetime | None] = mapped_column(default=None)


class Rating(IdMixin, TimestampMixin, Base):
    """One applicant's rating of one subject (一事一评), and — for a bad one (差评) — its
    rectification (整改): the unit's answer by a working-day deadline, then the revisit (回访)."""

    __tablename__ = "evaluation_ratings"
    __table_args__ = (
        Index("ix_evaluation_ratings_unit_rated", "unit_code", "rated_at"),
        Index("ix_evaluation_ratings_rectify", "rectify_state", "rectify_due"),
    )

    subject_pk: Mapped[int] = mapped_column(
        ForeignKey("evaluation_subjects.id", ondelete="CASCADE"), unique=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(80))
    unit_code: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200), default="")
    grade: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    comment: Mapped[str] = mapped_column(Text, default="")
    rated_at: Mapped[datetime] = mapped_column()
    # rectification of a bad rating: '' (none needed), pending, answered, accepted, rejected
    rectify_state: Mapped[str] = mapped_column(String(12), default="")
    rectify_due: Mapped[datetime | None] = mapped_column(default=None)
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    answered_by: Mapped[str] = mapped_column(String(100), default="")
    warned_at: Mapped[datetime | None] = mapped_column(default=None)
    revisit_note: Mapped[str] = mapped_column(Text, default="")
    revisited_at: Mapped[datetime | None] = mapped_column(default=None)
    revisited_by: Mapped[str] = mapped_column(String(100), default="")
