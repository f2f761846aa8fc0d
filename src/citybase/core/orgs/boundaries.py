"""Regions' outlines: where a district, street, community or grid ends, and which of them a point
lies in.

A boundary is a GeoJSON Polygon or MultiPolygon in WGS84 (longitude, latitude), as the civil
affairs bureau's division survey (勘界) or a grid management system exports it. It is checked
(closed rings, coordinates on the earth, no self-intersection) and kept with its bounding box, so
that the regions around a point are found by a range query and only those few outlines are
tested. Parsed outlines are kept in memory per process (the 4,096 last used), keyed by the row's
update time, so a point is placed without re-reading a large polygon each time."""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import shapely
from pydantic import BaseModel, Field
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from citybase.core.errors import InvalidInput, NotFound
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import repository
from citybase.core.orgs.models import Region, RegionBoundary
from citybase.core.orgs.schemas import ImportProblem, ImportReport, RegionLevel, RegionRead

KM_PER_DEGREE = 111.32  # along a meridian, and along the equator
DIGITS = 7  # coordinates are kept to 1e-7 degree (about a centimetre)
CODE_PROPERTIES = ("code", "adcode", "region_code")  # looked for in a feature's properties


class BoundaryRead(BaseModel):
    region_code: str
    name: str
    level: RegionLevel
    area_km2: float = Field(description="Approximate area (local equal-area projection)")
    bbox: list[float] = Field(description="west, south, east, north (WGS84 degrees)")
    source: str
    updated_at: datetime


class BoundaryWrite(BaseModel):
    geometry: dict[str, Any] = Field(description="A GeoJSON Polygon or MultiPolygon, WGS84")
    source: str = Field("", max_length=200, description="Where the outline comes from (勘界成果 …)")


# --- checking ------------------------------------------------------------------------------------


def parse_geometry(value: Any) -> Polygon | MultiPolygon:
    """A GeoJSON Polygon or MultiPolygon (a Feature's geometry is taken) as a checked shape."""
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidInput("a boundary is a GeoJSON Polygon or MultiPolygon", field="geometry")
    try:
        geometry = shape(value)
    except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.ShapelyError) as exc:
        raise InvalidInput(f"the geometry cannot be read: {exc}", field="geometry") from exc
    if geometry.is_empty:
        raise InvalidInput("the geometry is empty", field="geometry")
    west, south, east, north = geometry.bounds
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise InvalidInput("coordinates must be longitude, latitude in WGS84 degrees "
                           f"(found {west:.4f}…{east:.4f}, {south:.4f}…{north:.4f})",
                           field="geometry")  # fmt: skip
    if not geometry.is_valid:
        raise InvalidInput(f"the outline is not a valid polygon: {explain_validity(geometry)}",
                           field="geometry")  # fmt: skip
    assert isinstance(geometry, Polygon | MultiPolygon)
    return geometry


def area_km2(geometry: BaseGeometry) -> float:
    """Area in km², the degrees scaled at the shape's own latitude (within a fraction of a percent
    for a city's regions)."""
    middle = (geometry.bounds[1] + geometry.bounds[3]) / 2
    return float(geometry.area * KM_PER_DEGREE**2 * math.cos(math.radians(middle)))


# --- tiles: the index of where outlines lie -----------------------------------------------------
#
# The earth (longitude × latitude) halved again and again: at level z a tile is 360/2^z by
# 180/2^z degrees. An outline is filed under the smallest tile that holds its whole bounding box;
# a point is looked for under the one tile of each level that holds it. A few dozen keys for an
# indexed look-up, and the outlines found are nearly all those around the point (an outline that
# straddles a tile's edge is filed higher up, with the few others that do).

TILE_LEVELS = 24  # the finest tile: about 2 m by 1 m


def _cell(value: float, low: float, span: float, level: int) -> int:
    count: int = 1 << level
    return min(int((value - low) / span * count), count - 1)


def tile(west: float, south: float, east: float, north: float) -> str:
    """The key of the smallest tile that holds this bounding box."""
    for level in range(TILE_LEVELS, 0, -1):
        x, y = _cell(west, -180, 360, level), _cell(south, -90, 180, level)
        if x == _cell(east, -180, 360, level) and y == _cell(north, -90, 180, level):
            return f"{level}/{x}/{y}"
    return "0/0/0"


def tiles_at(lon: float, lat: float) -> list[str]:
    """The keys of the tiles, one of each level, that hold this point."""
    return ["0/0/0", *(f"{z}/{_cell(lon, -180, 360, z)}/{_cell(lat, -90, 180, z)}"
                       for z in range(1, TILE_LEVELS + 1))]  # fmt: skip


# --- writing -------------------------------------------------------------------------------------


def _store(
    session: Session, code: str, row: RegionBoundary | None, geometry: Polygon | MultiPolygon,
    source: str,
) -> str:  # fmt: skip
    """Keep the outline (rounded to the kept precision unless that spoils it); created, updated
    or unchanged. The caller flushes."""
    rounded = shapely.set_precision(geometry, 10**-DIGITS)
    if rounded.is_valid and not rounded.is_empty:
        geometry = rounded
    value = json.loads(json.dumps(mapping(geometry)))  # tuples → lists, as JSON keeps them
    west, south, east, north = geometry.bounds
    fields = {"geometry": value, "tile": tile(west, south, east, north), "west": west,
              "south": south, "east": east, "north": north,
              "area_km2": round(area_km2(geometry), 4), "source": source}  # fmt: skip
    if row is None:
        session.add(RegionBoundary(region_code=code, **fields))
        return "created"
    if row.geometry == value and row.source == source:
        return "unchanged"
    for key, v in fields.items():
        setattr(row, key, v)
    return "updated"


def set_boundary(session: Session, actor: Actor, code: str, data: BoundaryWrite) -> BoundaryRead:
    region = repository.get_region(session, code)
    if region is None:
        raise NotFound(f"no region with code {code}", field="code")
    geometry = parse_geometry(data.geometry)
    outcome = _store(session, code, session.get(RegionBoundary, code), geometry, data.source)
    session.flush()
    if outcome != "unchanged":
        ledger.record(
            session, actor, "region.boundary", object_type="region", object_id=code,
            details={"outcome": outcome, "source": data.source,
                     "area_km2": round(area_km2(geometry), 4)},
        )  # fmt: skip
    return get_boundary(session, code)


def remove_boundary(session: Session, actor: Actor, code: str) -> None:
    if session.get(RegionBoundary, code) is None:
        raise NotFound(f"region {code} has no boundary", field="code")
    session.execute(delete(RegionBoundary).where(RegionBoundary.region_code == code))
    ledger.record(session, actor, "region.boundary.remove", object_type="region", object_id=code)


def import_boundaries(
    session: Session, actor: Actor, content: bytes, *, code_property: str = "",
    source: str = "", dry_run: bool = False,
) -> ImportReport:  # fmt: skip
    """Outlines from a GeoJSON FeatureCollection, each feature naming its region by a property
    (``code``, ``adcode`` or ``region_code``, or the one given). Any bad feature: nothing is
    imported, and the report names every one by its number (1-based) in the file."""
    features = _features(content)
    report = ImportReport(kind="boundaries", rows=len(features))
    names = (code_property,) if code_property else CODE_PROPERTIES
    codes = [_code(feature, names) for feature in features]
    known = _in_chunks(codes, lambda chunk: repository.get_regions(session, chunk))
    found: list[tuple[int, str, Polygon | MultiPolygon]] = []
    seen: dict[str, int] = {}
    for number, (feature, code) in enumerate(zip(features, codes, strict=True), start=1):
        if not code:
            report.problems.append(ImportProblem(row=number, field="properties",
                                                 message=f"no {' or '.join(names)} property"))  # fmt: skip
            continue
        if code not in known:
            report.problems.append(ImportProblem(row=number, field="properties",
                                                 message=f"no region with code {code}"))  # fmt: skip
            continue
        if code in seen:
            report.problems.append(ImportProblem(row=number, field="properties",
                                                 message=f"{code} repeats feature {seen[code]}"))  # fmt: skip
            continue
        seen[code] = number
        try:
            found.append((number, code, parse_geometry(feature.get("geometry"))))
        except InvalidInput as exc:
            report.problems.append(ImportProblem(row=number, field="geometry", message=exc.message))
    if report.problems:
        return report
    report.warnings = _outside_parents(session, found, known)
    if dry_run:
        return report
    rows = _in_chunks([code for _, code, _ in found], lambda chunk: {
        row.region_code: row for row in session.scalars(
            select(RegionBoundary).where(RegionBoundary.region_code.in_(chunk)))})  # fmt: skip
    for _, code, geometry in found:
        outcome = _store(session, code, rows.get(code), geometry, source)
        setattr(report, outcome, getattr(report, outcome) + 1)
    session.flush()
    ledger.record(
        session, actor, "region.boundary.import", object_type="region", object_id="*",
        details={"features": len(found), "created": report.created, "updated": report.updated,
                 "source": source},
    )  # fmt: skip
    report.applied = True
    return report


OUTSIDE = 0.01  # a share of an outline outside its parent's worth a warning


def _outside_parents(
    session: Session, found: list[tuple[int, str, Polygon | MultiPolygon]],
    regions: dict[str, Region],
) -> list[ImportProblem]:  # fmt: skip
    """Outlines that reach more than 1 % outside their parent region's (from the file, or kept):
    said, not refused — surveyed layers of different levels rarely nest exactly."""
    mine = {code: geometry for _, code, geometry in found}
    parents = {regions[code].parent_code for code in mine} - {None} - set(mine)
    kept = _in_chunks([p for p in parents if p], lambda chunk: {
        code: shape(value) for code, value in session.execute(
            select(RegionBoundary.region_code, RegionBoundary.geometry)
            .where(RegionBoundary.region_code.in_(chunk)))})  # fmt: skip
    outlines: dict[str, BaseGeometry] = {**kept, **mine}
    for geometry in outlines.values():
        shapely.prepare(geometry)
    warnings = []
    for number, code, geometry in found:
        parent = regions[code].parent_code
        outer = outlines.get(parent) if parent else None
        if outer is None or outer.contains(geometry):
            continue
        share = geometry.difference(outer).area / geometry.area
        if share > OUTSIDE:
            warnings.append(ImportProblem(
                row=number, field="geometry",
                message=f"{share:.0%} of {code} lies outside its parent {parent}"))  # fmt: skip
    return warnings


def _code(feature: Any, names: tuple[str, ...]) -> str:
    properties = feature.get("properties") if isinstance(feature, dict) else None
    if not isinstance(properties, dict):
        return ""
    return next((str(properties[n]) for n in names if properties.get(n) not in (None, "")), "")


def _in_chunks(codes: list[str], read: Callable[[list[str]], dict[str, Any]]) -> dict[str, Any]:
    """``read`` over the distinct codes a thousand at a time (a database takes only so many
    parameters in one statement)."""
    wanted, out = sorted(set(codes) - {""}), {}
    for i in range(0, len(wanted), 1000):
        out.update(read(wanted[i : i + 1000]))
    return out


def _features(content: bytes) -> list[Any]:
    try:
        data = json.loads(content.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InvalidInput("the file is not UTF-8 text", field="file") from exc
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"the GeoJSON cannot be read: {exc}", field="file") from exc
    if isinstance(data, dict) and data.get("type") == "Feature":
        return [data]
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise InvalidInput("a GeoJSON FeatureCollection (or one Feature) is expected", field="file")
    features = data.get("features")
    if not isinstance(features, list):
        raise InvalidInput("the FeatureCollection has no features list", field="file")
    return features


# --- reading -------------------------------------------------------------------------------------


def _read(row: RegionBoundary, region: Region) -> BoundaryRead:
    return BoundaryRead(
        region_code=region.code, name=region.name, level=RegionLevel(region.level),
        area_km2=row.area_km2, bbox=[row.west, row.south, row.east, row.north],
        source=row.source, updated_at=row.updated_at,
    )  # fmt: skip


def _kept(session: Session, code: str) -> tuple[RegionBoundary, Region]:
    region = repository.get_region(session, code)
    if region is None:
        raise NotFound(f"no region with code {code}", field="code")
    row = session.get(RegionBoundary, code)
    if row is None:
        raise NotFound(f"region {code} has no boundary", field="code")
    return row, region


def get_boundary(session: Session, code: str) -> BoundaryRead:
    return _read(*_kept(session, code))


def feature(session: Session, code: str) -> dict[str, Any]:
    """The region's outline as a GeoJSON Feature."""
    row, region = _kept(session, code)
    return _feature(_read(row, region), row.geometry)


def _feature(read: BoundaryRead, geometry: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "id": read.region_code, "bbox": read.bbox, "geometry": geometry,
            "properties": {"code": read.region_code, "name": read.name, "level": read.level,
                           "area_km2": read.area_km2, "source": read.source}}  # fmt: skip


def collection(
    session: Session, *, level: RegionLevel | None = None, parent_code: str | None = None
) -> dict[str, Any]:
    """The outlines of a level's (or a region's children's) regions as a FeatureCollection."""
    query = (select(RegionBoundary, Region).join(Region, Region.code == RegionBoundary.region_code)
             .order_by(Region.sort_order, Region.code))  # fmt: skip
    if level:
        query = query.where(Region.level == level)
    if parent_code:
        query = query.where(Region.parent_code == parent_code)
    features = [_feature(_read(row, region), row.geometry)
                for row, region in session.execute(query)]  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def outlines(session: Session, codes: list[str]) -> dict[str, BoundaryRead]:
    """Which of these regions have an outline, and its facts (the outlines themselves unread)."""
    if not codes:
        return {}
    query = (select(RegionBoundary.region_code, RegionBoundary.area_km2, RegionBoundary.west,
                    RegionBoundary.south, RegionBoundary.east, RegionBoundary.north,
                    RegionBoundary.source, RegionBoundary.updated_at, Region.name, Region.level)
             .join(Region, Region.code == RegionBoundary.region_code)
             .where(RegionBoundary.region_code.in_(codes)))  # fmt: skip
    return {
        code: BoundaryRead(region_code=code, name=name, level=RegionLevel(level), area_km2=area,
                           bbox=[west, south, east, north], source=source, updated_at=updated)
        for code, area, west, south, east, north, source, updated, name, level
        in session.execute(query)
    }  # fmt: skip


# --- placing a point -----------------------------------------------------------------------------


@dataclass
class _Kept:
    updated_at: datetime
    geometry: BaseGeometry


KEPT_SHAPES = 4096  # parsed outlines kept per process, the least recently used let go first
_shapes: OrderedDict[str, _Kept] = OrderedDict()


def _shapes_of(session: Session, rows: list[tuple[str, datetime]]) -> dict[str, BaseGeometry]:
    """The parsed outlines of these rows, those not kept yet (or changed since) read at once."""
    stale = [code for code, updated_at in rows
             if code not in _shapes or _shapes[code].updated_at != updated_at]  # fmt: skip
    if stale:
        query = (select(RegionBoundary.region_code, RegionBoundary.updated_at,
                        RegionBoundary.geometry).where(RegionBoundary.region_code.in_(stale)))  # fmt: skip
        for code, updated_at, value in session.execute(query):
            geometry = shape(value)
            shapely.prepare(geometry)
            _shapes[code] = _Kept(updated_at, geometry)
    found = {}
    for code, _ in rows:
        kept = _shapes.get(code)
        if kept is not None:
            _shapes.move_to_end(code)
            found[code] = kept.geometry
    while len(_shapes) > KEPT_SHAPES:
        _shapes.popitem(last=False)
    return found


def regions_at(session: Session, lon: float, lat: float) -> list[RegionRead]:
    """Every region whose outline holds the point (a point on a shared edge is in both), top
    down."""
    query = (select(RegionBoundary.region_code, RegionBoundary.updated_at)
             .where(RegionBoundary.tile.in_(tiles_at(lon, lat)),
                    RegionBoundary.west <= lon, RegionBoundary.east >= lon,
                    RegionBoundary.south <= lat, RegionBoundary.north >= lat))  # fmt: skip
    point = shapely.Point(lon, lat)
    shapes = _shapes_of(session, [(code, updated) for code, updated in session.execute(query)])
    codes = [code for code, geometry in shapes.items() if geometry.covers(point)]
    regions = [
        RegionRead.model_validate(r) for r in repository.get_regions(session, codes).values()
    ]
    return sorted(regions, key=lambda r: (r.level.depth, r.code))


def region_at(session: Session, lon: float, lat: float) -> RegionRead | None:
    """The deepest region holding the point whose outlined ancestors hold it too (the fewest
    that do not, where none agrees fully): a grid drawn a little over its street's edge does not
    take a point that lies in the neighbouring district."""
    found = regions_at(session, lon, lat)
    if not found:
        return None
    hits = {r.code for r in found}
    parents = {r.code: r.parent_code for r in found}
    while missing := {p for p in parents.values() if p and p not in parents}:
        parents |= {
            code: r.parent_code for code, r in repository.get_regions(session, missing).items()
        }
        parents |= dict.fromkeys(missing - set(parents))  # not in the register: stop there
    query = select(RegionBoundary.region_code).where(RegionBoundary.region_code.in_(set(parents)))
    outlined = set(session.scalars(query))

    def fit(region: RegionRead) -> tuple[int, int]:
        chain, code = set(), region.parent_code
        while code and code not in chain:
            chain.add(code)
            code = parents.get(code)
        return -len((chain & outlined) - hits), region.level.depth

    return max(found, key=fit)


# --- drawing -------------------------------------------------------------------------------------


@dataclass
class Shape:
    code: str
    name: str
    path: str  # SVG path data, holes drawn with the even-odd rule
    x: float  # a point inside the shape, for its label
    y: float
    width: float = 0.0  # its size on the canvas, in pixels (whether a label fits)


@dataclass
class Drawing:
    """Outlines projected onto an SVG canvas (equirectangular at the middle latitude: true to
    shape at a city's scale), simplified to about a pixel."""

    width: int
    height: int
    shapes: list[Shape]
    west: float
    north: float
    scale: float  # pixels per degree of longitude
    squeeze: float  # cos(middle latitude): a degree of latitude is this many times longer

    def point(self, lon: float, lat: float) -> tuple[float, float] | None:
        x = (lon - self.west) * self.scale
        y = (self.north - lat) * self.scale / self.squeeze
        return (
            (round(x, 1), round(y, 1)) if 0 <= x <= self.width and 0 <= y <= self.height else None
        )


_drawings: OrderedDict[tuple[Any, ...], Drawing | None] = OrderedDict()


def drawing(features: list[dict[str, Any]], width: int = 440, pad: int = 4) -> Drawing | None:
    """The features of a FeatureCollection (as ``collection`` or ``map_collection`` give them)
    drawn ``width`` pixels wide; None when there are none. Features that carry their row's
    update time (``map_collection``'s) are drawn once per process until a row changes."""
    stamps = tuple((f["properties"]["code"], f["properties"].get("updated")) for f in features)
    key = (stamps, width, pad)
    if all(updated for _, updated in stamps) and key in _drawings:
        _drawings.move_to_end(key)
        return _drawings[key]
    drawn = _draw(features, width, pad)
    if all(updated for _, updated in stamps):
        _drawings[key] = drawn
        while len(_drawings) > 256:
            _drawings.popitem(last=False)
    return drawn


def _draw(features: list[dict[str, Any]], width: int, pad: int) -> Drawing | None:
    shapes = [(f["properties"], shape(f["geometry"])) for f in features]
    if not shapes:
        return None
    west, south, east, north = shapely.GeometryCollection([g for _, g in shapes]).bounds
    squeeze = math.cos(math.radians((south + north) / 2))
    scale = (width - 2 * pad) / max(east - west, 1e-9)
    height = round((north - south) * scale / squeeze) + 2 * pad
    west, north = west - pad / scale, north + pad * squeeze / scale
    out = Drawing(width, height, [], west, north, scale, squeeze)

    def xy(lon: float, lat: float) -> str:
        return f"{(lon - west) * scale:.1f},{(north - lat) * scale / squeeze:.1f}"

    for properties, geometry in shapes:
        simple = geometry.simplify(0.8 / scale, preserve_topology=True)
        polygons = simple.geoms if isinstance(simple, MultiPolygon) else [simple]
        rings = [ring for p in polygons for ring in (p.exterior, *p.interiors)]
        path = " ".join("M" + " L".join(xy(x, y) for x, y in ring.coords[:-1]) + " Z"
                        for ring in rings)  # fmt: skip
        inside = geometry.representative_point()
        label = out.point(inside.x, inside.y) or (0.0, 0.0)
        width = (geometry.bounds[2] - geometry.bounds[0]) * scale
        out.shapes.append(Shape(properties["code"], properties["name"], path, *label,
                                width=round(width, 1)))  # fmt: skip
    return out


# --- outlines for a map --------------------------------------------------------------------------

MAP_TOLERANCE = 0.0005  # degrees (about 50 m): finer than the demo's source, coarse for a page
_simplified: OrderedDict[str, tuple[datetime, dict[str, Any]]] = OrderedDict()


def map_collection(
    session: Session, *, level: RegionLevel | None = None, parent_code: str | None = None,
    codes: list[str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Outlines to draw on the console's map: simplified to ``MAP_TOLERANCE`` (the topology
    kept), coordinates to 1e-5°, and only code, name, level and update time as properties. A page draws the
    city's districts at a tenth of their stored size; each simplified outline is kept per
    process until its row changes, so a map reads only the rows' update times."""
    query = (select(RegionBoundary.region_code, RegionBoundary.updated_at, Region.name,
                    Region.level)
             .join(Region, Region.code == RegionBoundary.region_code)
             .order_by(Region.sort_order, Region.code))  # fmt: skip
    if level:
        query = query.where(Region.level == level)
    if parent_code:
        query = query.where(Region.parent_code == parent_code)
    if codes is not None:
        query = query.where(RegionBoundary.region_code.in_(codes))
    rows = session.execute(query).all()
    stale = [code for code, updated_at, *_ in rows
             if code not in _simplified or _simplified[code][0] != updated_at]  # fmt: skip
    for chunk in range(0, len(stale), 500):
        read = select(RegionBoundary.region_code, RegionBoundary.updated_at,
                      RegionBoundary.geometry).where(
            RegionBoundary.region_code.in_(stale[chunk:chunk + 500]))  # fmt: skip
        for code, updated_at, value in session.execute(read):
            simple = shape(value).simplify(MAP_TOLERANCE, preserve_topology=True)
            _simplified[code] = (updated_at, mapping(shapely.set_precision(simple, 1e-5)))
    features = []
    for code, _, name, region_level in rows:
        kept = _simplified.get(code)
        if kept is None:
            continue
        _simplified.move_to_end(code)
        features.append({"type": "Feature", "id": code, "geometry": kept[1],
                         "properties": {"code": code, "name": name,
                                        "level": RegionLevel(region_level).value,
                                        "updated": kept[0].isoformat()}})  # fmt: skip
    while len(_simplified) > KEPT_SHAPES:
        _simplified.popitem(last=False)
    return {"type": "FeatureCollection", "features": features}
