"""Tables of the one-thing service (一件事): the items and their matters, the applicants'
real-name identities, the applications with their one form, and each matter's piece of work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType, TimestampMixin


class OneThingItem(IdMixin, TimestampMixin, Base):
    """An item of the one-thing catalog (一件事清单): what it is called, who leads it, and its
    specification — the matters (事项) of several units with their materials, conditions, legal
    time limits, fields and dependencies, where the fields are pre-filled from, and the rule
    that lets the platform offer it unasked (免申即办). The spec is kept as validated JSON."""

    __tablename__ = "onething_items"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    lead_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    applicant_kind: Mapped[str] = mapped_column(String(12))  # person, enterprise
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    updated_by: Mapped[str] = mapped_column(String(100), default="")


class Applicant(IdMixin, TimestampMixin, Base):
    """A signed-in applicant's real-name identity: a person (citizen ID) or an enterprise
    (credit code), kept only as the keyed hash by which the base libraries find its file."""

    __tablename__ = "onething_applicants"

    user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    kind: Mapped[str] = mapped_column(String(12))
    subject_tag: Mapped[str] = mapped_column(String(80), index=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")


class Application(IdMixin, TimestampMixin, Base):
    """One application for one item (一件事申请), with one number the applicant follows; or an
    offer the platform made unasked (免申即办), waiting for the person to confirm."""

    __tablename__ = "onething_applications"

    number: Mapped[str] = mapped_column(String(40), unique=True)
    item_code: Mapped[str] = mapped_column(String(40), index=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(12))
    subject_tag: Mapped[str] = mapped_column(String(80), index=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    form: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # element → field
    materials: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # code → supplied
    fields_total: Mapped[int] = mapped_column(Integer, default=0)
    fields_prefilled: Mapped[int] = mapped_column(Integer, default=0)
    proactive: Mapped[bool] = mapped_column(default=False)
    submitted_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(Text, default="")


class ApplicationMatter(IdMixin, TimestampMixin, Base):
    """One matter of an application: the unit that handles it, the case it became on the
    hub (one case per matter), and where it stands."""

    __tablename__ = "onething_application_matters"
    __table_args__ = (UniqueConstraint("application_id", "matter_code"),)

    application_id: Mapped[int] = mapped_column(
        ForeignKey("onething_applications.id", ondelete="CASCADE"), index=True
    )
    matter_code: Mapped[str] = mapped_column(String(40))
    matter_name: Mapped[str] = mapped_column(String(100))
    unit_code: Mapped[str] = mapped_column(String(40), index=True)
    state: Mapped[str] = mapped_column(String(20))
    needs: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    case_number: Mapped[str] = mapped_column(String(40), default="", index=True)
    time_limit_days: Mapped[int] = mapped_column(Integer, default=0)
    asked: Mapped[str] = mapped_column(Text, default="")  # what the unit asked for, when returned
    result: Mapped[str] = mapped_column(Text, default="")
    done_at: Mapped[datetime | None]
