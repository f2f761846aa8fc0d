from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType, TimestampMixin, utcnow


class DispatchRule(IdMixin, TimestampMixin, Base):
    """One line of the dispatch catalog (派单目录): cases of a category (a code prefix; empty for
    any) in a region (and the regions under it) go to a lead unit, with support units and the
    deadlines for each urgency."""

    __tablename__ = "hub_dispatch_rules"
    __table_args__ = (UniqueConstraint("category_code", "region_code"),)

    category_code: Mapped[str] = mapped_column(String(12), default="")
    region_code: Mapped[str] = mapped_column(String(20))
    lead_unit: Mapped[str] = mapped_column(String(40), index=True)
    support_units: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    deadlines: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    note: Mapped[str] = mapped_column(String(200), default="")


class ModelVersion(IdMixin, Base):
    """One trained version of a dispatch model (its files are ``<data dir>/models/NAME.vN.*``):
    the window of closed cases it learned from, how many, the period it was judged on and its
    figures there beside the champion's, and its status — champion (the one the predict path
    uses), challenger (trained, not yet judged), rejected or retired."""

    __tablename__ = "hub_dispatch_model_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)

    name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(12), index=True)
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
    trained_by: Mapped[str] = mapped_column(String(100), default="")
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    holdout_start: Mapped[datetime | None]
    holdout_end: Mapped[datetime | None]
    examples: Mapped[int] = mapped_column(default=0)
    corrections: Mapped[int] = mapped_column(default=0)
    holdout: Mapped[int] = mapped_column(default=0)
    # on the holdout: {"macro_f1", "accuracy", "routed", "classes": [{label, precision, …}]}
    figures: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    champion_figures: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    confusion: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # labels, matrix
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    decision: Mapped[str] = mapped_column(String(300), default="")
    # when it last became the champion (promoted, or gone back to): its reign's start
    promoted_at: Mapped[datetime | None]


class PromotionMargins(IdMixin, TimestampMixin, Base):
    """How much better a challenger to one dispatch model must do to replace its champion, as
    the quality team of the centre the model serves set it: on macro-F1 and on the share of
    cases routed without a later correction. A model with no row takes the settings' margins."""

    __tablename__ = "hub_dispatch_margins"

    model: Mapped[str] = mapped_column(String(64), unique=True)
    margin_f1: Mapped[float]
    margin_routed: Mapped[float]
    updated_by: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
