from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType, TimestampMixin
from citybase.data.masking.operators import SUBJECT_TAG_LENGTH


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
    # answered in the privacy sandbox (以沙箱方式答复): the sandbox grant made instead of rows
    sandbox_grant_id: Mapped[int | None]


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


class ShareAccess(IdMixin, Base):
    """One read of shared data, allowed or refused (共享调用日志). The ledger holds the same
    read, chained and signed; this table is its index for the provider's and auditor's queries."""

    __tablename__ = "share_accesses"

    at: Mapped[datetime] = mapped_column(index=True)
    outcome: Mapped[str] = mapped_column(String(10), index=True)  # allowed, refused
    refusal: Mapped[str] = mapped_column(String(40), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    operation: Mapped[str] = mapped_column(String(10))  # rows, export
    resource_code: Mapped[str] = mapped_column(String(40), index=True)
    provider_unit_code: Mapped[str] = mapped_column(String(40), default="", index=True)
    consumer_unit_code: Mapped[str] = mapped_column(String(40), default="", index=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    api_key_id: Mapped[int | None]
    end_user: Mapped[str] = mapped_column(String(100), default="", index=True)
    purpose: Mapped[str] = mapped_column(Text, default="")
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    case_number: Mapped[str] = mapped_column(String(80), default="", index=True)
    grant_id: Mapped[int | None]
    fields: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    query: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    rows: Mapped[int] = mapped_column(default=0)
    subjects: Mapped[int] = mapped_column(default=0)
    ledger_seq: Mapped[int] = mapped_column(BigInteger)


class ShareAccessSubject(Base):
    """A data subject whose record a read served: a keyed hash of the citizen ID or credit code
    (never the number itself), so that the bureau can answer "whose data went where".

    Keyed by (subject, read) with no separate row id: one B-tree, which a look-up by subject
    walks. Reads do not write here: see ``RecentAccessSubject``."""

    __tablename__ = "share_access_subjects"
    __table_args__ = ({"sqlite_with_rowid": False},)

    subject: Mapped[str] = mapped_column(String(SUBJECT_TAG_LENGTH), primary_key=True)
    access_id: Mapped[int] = mapped_column(
        ForeignKey("share_accesses.id"), primary_key=True, autoincrement=False
    )


class RecentAccessSubject(Base):
    """A read's data subjects as the read wrote them: keyed (read, subject), so that a read
    appends to the end of one tree instead of touching a page per subject all over the index.
    The worker files them into ``ShareAccessSubject`` in sorted batches; a look-up by subject
    searches both."""

    __tablename__ = "share_access_subjects_recent"
    __table_args__ = ({"sqlite_with_rowid": False},)

    access_id: Mapped[int] = mapped_column(
        ForeignKey("share_accesses.id"), primary_key=True, autoincrement=False
    )
    subject: Mapped[str] = mapped_column(String(SUBJECT_TAG_LENGTH), primary_key=True)


class Demand(IdMixin, TimestampMixin, Base):
    """A unit's posted need for data it cannot find in the catalog (需求清单)."""

    __tablename__ = "share_demands"

    number: Mapped[str] = mapped_column(String(20), unique=True)
    consumer_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    posted_by: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    items: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    provider_unit_code: Mapped[str] = mapped_column(String(40), default="", index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    request_number: Mapped[str] = mapped_column(String(20), default="")


class DemandAnswer(IdMixin, Base):
    """A provider's answer to a demand: an offer of a resource, a plan, or a no."""

    __tablename__ = "share_demand_answers"

    demand_id: Mapped[int] = mapped_column(ForeignKey("share_demands.id"), index=True)
    provider_unit_code: Mapped[str] = mapped_column(String(40))
    answered_by: Mapped[str] = mapped_column(String(100))
    answered_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(20))  # offer, planned, unavailable
    resource_code: Mapped[str] = mapped_column(String(40), default="")
    message: Mapped[str] = mapped_column(Text, default="")
