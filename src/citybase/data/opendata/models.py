from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType, TimestampMixin


class OpenApplication(IdMixin, TimestampMixin, Base):
    """An application to use a conditionally open resource (有条件开放申请)."""

    __tablename__ = "open_applications"

    number: Mapped[str] = mapped_column(String(20), unique=True)
    resource_code: Mapped[str] = mapped_column(String(40), index=True)
    provider_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    applicant: Mapped[str] = mapped_column(String(100))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    credit_code: Mapped[str] = mapped_column(String(18), default="")
    email: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(20), default="")
    purpose: Mapped[str] = mapped_column(Text)
    scenario: Mapped[str] = mapped_column(Text, default="")  # 应用场景
    days: Mapped[int] = mapped_column(default=90)  # how long the data is wanted
    status: Mapped[str] = mapped_column(String(20), index=True, default="pending")
    tracking_hash: Mapped[str] = mapped_column(String(64))  # the applicant's token, hashed
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decided_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    valid_until: Mapped[datetime | None]
    downloads: Mapped[int] = mapped_column(default=0)


class HarvestSource(IdMixin, TimestampMixin, Base):
    """A catalog harvested into this one (采集来源): a district's or a province's DCAT-AP
    catalog, at an address the platform may call, registered into one unit's drafts."""

    __tablename__ = "harvest_sources"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(String(1000))
    unit_code: Mapped[str] = mapped_column(String(40), index=True)  # whose drafts they become
    classification: Mapped[str] = mapped_column(String(30))  # 分类码 of the drafts
    created_by: Mapped[str] = mapped_column(String(100))
    last_run_at: Mapped[datetime | None]


class HarvestRun(IdMixin, TimestampMixin, Base):
    """One harvest: what it found, registered, updated, left alone and why."""

    __tablename__ = "harvest_runs"

    source_id: Mapped[int | None] = mapped_column(index=True)  # none for an uploaded file
    origin: Mapped[str] = mapped_column(String(1000))  # the address or the file's name
    unit_code: Mapped[str] = mapped_column(String(40), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    applied: Mapped[bool] = mapped_column(default=False)
    report: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class HarvestedDataset(IdMixin, TimestampMixin, Base):
    """A dataset of another catalog, by its URI, and the draft it became here."""

    __tablename__ = "harvested_datasets"

    dataset_uri: Mapped[str] = mapped_column(String(1000), unique=True)
    resource_code: Mapped[str] = mapped_column(String(40), index=True)
    source_id: Mapped[int | None] = mapped_column(index=True)
    modified: Mapped[str] = mapped_column(String(40), default="")  # dct:modified as given
