from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType, TimestampMixin


class DataResource(IdMixin, TimestampMixin, Base):
    """One public data resource with the catalog's core metadata (核心元数据)."""

    __tablename__ = "data_resources"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    category: Mapped[str] = mapped_column(String(1))  # 类: 1 基础, 2 主题, 3 部门
    item_code: Mapped[str] = mapped_column(String(2))  # 项
    detail_code: Mapped[str] = mapped_column(String(3))  # 目
    sub_detail: Mapped[str] = mapped_column(String(20), default="")  # 细目
    provider_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    region_code: Mapped[str] = mapped_column(String(20), index=True)
    abstract: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(20))
    share_type: Mapped[str] = mapped_column(String(20), index=True)
    share_condition: Mapped[str] = mapped_column(Text, default="")
    share_method: Mapped[str] = mapped_column(String(40), default="")
    open_type: Mapped[str] = mapped_column(String(20), index=True)
    open_condition: Mapped[str] = mapped_column(Text, default="")
    update_cycle: Mapped[str] = mapped_column(String(20))
    publish_date: Mapped[date | None] = mapped_column(Date)
    related_codes: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    keywords: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    theme_tags: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    base_tags: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(20), index=True, default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)


class DataItem(IdMixin, Base):
    """One data item (信息项) of a resource."""

    __tablename__ = "data_items"
    __table_args__ = (UniqueConstraint("resource_id", "name"),)

    resource_id: Mapped[int] = mapped_column(
        ForeignKey("data_resources.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    data_type: Mapped[str] = mapped_column(String(20))
    length: Mapped[int | None] = mapped_column(Integer)
    meaning: Mapped[str] = mapped_column(Text, default="")
    element: Mapped[str] = mapped_column(String(100), default="")


class DataResourceVersion(IdMixin, Base):
    """A snapshot of a resource's metadata and items, one per change."""

    __tablename__ = "data_resource_versions"
    __table_args__ = (UniqueConstraint("resource_id", "version"),)

    resource_id: Mapped[int] = mapped_column(
        ForeignKey("data_resources.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType)
    changed_by: Mapped[str] = mapped_column(String(100))
    changed_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text, default="")
