from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, TimestampMixin


class Region(TimestampMixin, Base):
    """An administrative division (行政区划), keyed by its division code."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="")
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("regions.code", ondelete="RESTRICT"), index=True
    )
    official: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class Unit(IdMixin, TimestampMixin, Base):
    """A government unit (政府部门/单位) attached to a region."""

    __tablename__ = "units"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(20), default="department")
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    region_code: Mapped[str] = mapped_column(
        ForeignKey("regions.code", ondelete="RESTRICT"), index=True
    )
    counterpart_id: Mapped[int | None] = mapped_column(
        ForeignKey("units.id", ondelete="SET NULL"), index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class RegionBoundary(TimestampMixin, Base):
    """A region's outline (WGS84 GeoJSON Polygon or MultiPolygon), with its bounding box and
    the tile that holds it kept in columns, so that the regions around a point are found by an
    indexed look-up before any geometry is read."""

    __tablename__ = "region_boundaries"

    region_code: Mapped[str] = mapped_column(
        ForeignKey("regions.code", ondelete="CASCADE"), primary_key=True
    )
    geometry: Mapped[dict[str, Any]]
    tile: Mapped[str] = mapped_column(
        String(24),
        index=True,
        doc="The smallest tile of a fixed hierarchy that holds the bounding box",
    )
    west: Mapped[float] = mapped_column(Float)
    south: Mapped[float] = mapped_column(Float)
    east: Mapped[float] = mapped_column(Float)
    north: Mapped[float] = mapped_column(Float)
    area_km2: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(200), default="")
