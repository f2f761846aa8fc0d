from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType, utcnow

OPEN_POINTS = "state NOT IN ('closed', 'merged') AND lon IS NOT NULL"


class Case(IdMixin, Base):
    """A matter the city must answer: who raised it and how, what and where it is, who must act,
    the state it is in and the deadlines of its stage. Counters and on-time marks are kept on the
    row so that a centre's figures are one aggregate over cases."""

    __tablename__ = "hub_cases"
    __table_args__ = (
        Index("ix_hub_cases_state_lead", "state", "lead_unit"),
        Index("ix_hub_cases_district_accepted", "district_code", "accepted_at"),
        # the map's dots: open cases that have a point, newest first, without reading the rest
        Index(
            "ix_hub_cases_open_points",
            "accepted_at",
            sqlite_where=text(OPEN_POINTS),
            postgresql_where=text(OPEN_POINTS),
        ),
    )

    number: Mapped[str] = mapped_column(String(32), unique=True)
    source: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    reporter_name: Mapped[str] = mapped_column(String(100), default="")
    reporter_phone: Mapped[str] = mapped_column(String(20), default="", index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(String(300), default="")
    region_code: Mapped[str] = mapped_column(String(20), default="")
    district_code: Mapped[str] = mapped_column(String(20), default="")
    street_code: Mapped[str] = mapped_column(String(20), default="")
    community_code: Mapped[str] = mapped_column(String(20), default="")
    grid_code: Mapped[str] = mapped_column(String(20), default="")
    lon: Mapped[float | None]
    lat: Mapped[float | None]
    category_code: Mapped[str] = mapped_column(String(12), default="", index=True)
    urgency: Mapped[str] = mapped_column(String(12), default="normal")
    state: Mapped[str] = mapped_column(String(20))
    lead_unit: Mapped[str] = mapped_column(String(40), default="", index=True)
    brain_code: Mapped[str] = mapped_column(String(20), default="", index=True)
    device_id: Mapped[str] = mapped_column(String(100), default="", index=True)
    support_units: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    attachments: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    related: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    # lead units the case left before its current one, each {unit, returned, signed_on_time}:
    # a return or a reassignment counts for the unit it happened to, not the one after it
    former_leads: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    suggestion: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    merged_into: Mapped[str] = mapped_column(String(32), default="")
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    accepted_by: Mapped[str] = mapped_column(String(100), default="")
    dispatched_at: Mapped[datetime | None]
    sign_due: Mapped[datetime | None]
    signed_at: Mapped[datetime | None]
    handle_due: Mapped[datetime | None] = mapped_column(index=True)
    replied_at: Mapped[datetime | None]
    reply: Mapped[str] = mapped_column(Text, default="")
    followed_up_at: Mapped[datetime | None]
    satisfaction: Mapped[str] = mapped_column(String(12), default="")
    closed_at: Mapped[datetime | None]
    closed_how: Mapped[str] = mapped_column(String(20), default="")
    auto_dispatched: Mapped[bool] = mapped_column(default=False)
    signed_on_time: Mapped[bool | None]
    replied_on_time: Mapped[bool | None]
    return_count: Mapped[int] = mapped_column(default=0)
    reassign_count: Mapped[int] = mapped_column(default=0)
    reopen_count: Mapped[int] = mapped_column(default=0)
    extension_count: Mapped[int] = mapped_column(default=0)
    extension_asked: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    warning: Mapped[str] = mapped_column(String(8), default="")
    warned_for: Mapped[str] = mapped_column(String(40), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CaseStep(IdMixin, Base):
    """One step of a case's history: what was done, from which state to which, by whom for which
    unit, with the note that went with it."""

    __tablename__ = "hub_case_steps"

    case_id: Mapped[int] = mapped_column(ForeignKey("hub_cases.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str] = mapped_column(String(20), default="")
    to_state: Mapped[str] = mapped_column(String(20), default="")
    actor: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(40), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


STAT_FIELDS = (
    "cases", "dispatched", "signed", "signed_on_time", "replied", "replied_on_time", "returned",
    "verdicts", "reopened", "rated", "satisfied", "reopens", "closed", "closed_first_time",
    "never_reassigned", "overdue",
)  # fmt: skip


class CaseStat(Base):
    """The centre's counts kept as cases change, by the city's day of intake, for all cases
    (``dim`` "all") and per lead unit, district and 大类: the figures over a year of cases are a
    sum over a few thousand rows, not an aggregate over every case. Rebuilt from the cases by
    ``rebuild_stats``."""

    __tablename__ = "hub_case_stats"

    dim: Mapped[str] = mapped_column(String(10), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    cases: Mapped[int] = mapped_column(default=0)
    dispatched: Mapped[int] = mapped_column(default=0)
    signed: Mapped[int] = mapped_column(default=0)
    signed_on_time: Mapped[int] = mapped_column(default=0)
    replied: Mapped[int] = mapped_column(default=0)
    replied_on_time: Mapped[int] = mapped_column(default=0)
    returned: Mapped[int] = mapped_column(default=0)
    verdicts: Mapped[int] = mapped_column(default=0)
    reopened: Mapped[int] = mapped_column(default=0)
    rated: Mapped[int] = mapped_column(default=0)
    satisfied: Mapped[int] = mapped_column(default=0)
    reopens: Mapped[int] = mapped_column(default=0)
    closed: Mapped[int] = mapped_column(default=0)
    closed_first_time: Mapped[int] = mapped_column(default=0)
    never_reassigned: Mapped[int] = mapped_column(default=0)
    overdue: Mapped[int] = mapped_column(default=0)
