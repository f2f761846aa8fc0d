"""Where entities are: the bounding box of each GeoProperty, kept beside the entity and filed
under its Z-order tile, so that geo-queries read candidates through an index.

Every write of an entity goes through ``keep`` (from ``service._changed``): the GeoProperties it
wrote are filed again, those it removed are dropped. Writes of one entity are filed at once; a
batch collects them and files them together at its end (``batched``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, cast

import orjson
from sqlalchemy import ColumnElement, Table, and_, delete, or_, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from citybase.core.geo import expand_m, zorder_cover, zorder_key
from citybase.perception.context.attributes import default
from citybase.perception.context.models import ContextEntity, EntityPlace, EntityState

_COLUMNS = ("zlevel", "zkey", "west", "south", "east", "north")
_PENDING = "perception.places.pending"
_UPSERT_MANY = (
    "INSERT INTO perception_entity_places (entity_id, attr, zlevel, zkey, west, south, east, "
    "north) SELECT entity_id, attr, zlevel, zkey, west, south, east, north FROM "
    "jsonb_to_recordset(%s::jsonb) AS r(entity_id text, attr text, zlevel int, zkey bigint, "
    "west float8, south float8, east float8, north float8) ON CONFLICT (entity_id, attr) DO "
    "UPDATE SET zlevel = excluded.zlevel, zkey = excluded.zkey, west = excluded.west, south = "
    "excluded.south, east = excluded.east, north = excluded.north WHERE (perception_entity_places"
    ".zkey, perception_entity_places.west, perception_entity_places.south, perception_entity_places"
    ".east, perception_entity_places.north) IS DISTINCT FROM (excluded.zkey, excluded.west, "
    "excluded.south, excluded.east, excluded.north)"
)  # filed again where it moved; a place written unchanged is left as it is
_BATCH = "perception.places.batch"


def box(value: Any) -> tuple[float, float, float, float] | None:
    """A GeoJSON geometry's bounding box (west, south, east, north); None for anything else."""
    if not isinstance(value, dict):
        return None
    kind: Any = value.get("type")
    coords: Any = value.get("coordinates")
    xs: list[float] = []
    ys: list[float] = []
    try:
        if kind == "Point":
            xs, ys = [float(coords[0])], [float(coords[1])]
        elif kind == "GeometryCollection":
            for geometry in value.get("geometries") or []:
                found = box(geometry)
                if found is None:
                    return None
                xs += [found[0], found[2]]
                ys += [found[1], found[3]]
        else:
            depth = {"LineString": 1, "MultiPoint": 1, "Polygon": 2, "MultiLineString": 2,
                     "MultiPolygon": 3}.get(kind)  # fmt: skip
            if depth is None:
                return None
            positions = coords
            for _ in range(depth - 1):
                positions = [p for part in positions for p in part]
            xs = [float(p[0]) for p in positions]
            ys = [float(p[1]) for p in positions]
    except (TypeError, ValueError, IndexError, KeyError):
        return None
    west, south, east, north = min(xs), min(ys), max(xs), max(ys)
    if west < -180 or east > 180 or south < -90 or north > 90:
        return None
    return west, south, east, north


def _row(entity_id: str, attr: str, value: Any) -> dict[str, Any] | None:
    found = box(value)
    if found is None:
        return None
    level, key = zorder_key(*found)
    west, south, east, north = found
    return {"entity_id": entity_id, "attr": attr, "zlevel": level, "zkey": key, "west": west,
            "south": south, "east": east, "north": north}  # fmt: skip


def row_for(entity_id: str, attr: str, held: Any) -> dict[str, Any] | None:
    """The place row of one attribute as the entity holds it (None: not a GeoProperty)."""
    if isinstance(held, dict) and held.get("type") == "GeoProperty":
        return _row(entity_id, attr, held.get("value"))
    return None


def keep(
    session: Session, entity: ContextEntity | EntityState, written: Collection[str],
    before: Collection[str] | None, removed: Collection[str] = (),
) -> None:  # fmt: skip
    """File again the GeoProperties among ``written``; drop ``removed`` and any written attribute
    that is no longer a geometry. ``before``: what the entity held (None: it is new, nothing of
    it is filed yet); where it is the attributes themselves, one written unchanged is left."""
    pending: dict[tuple[str, str], tuple[bool, dict[str, Any] | None]] = session.info.setdefault(
        _PENDING, {})  # fmt: skip
    old = before if isinstance(before, Mapping) else None
    for attr in written:
        held = default(entity.attrs.get(attr))
        if old is not None and attr in old and old[attr] == held:
            continue
        row = row_for(entity.id, attr, held)
        if row is not None or before is not None:
            pending[(entity.id, attr)] = (before is not None, row)
    for attr in removed:
        pending[(entity.id, attr)] = (True, None)
    if not session.info.get(_BATCH):
        flush(session)


def flush(session: Session) -> None:
    """Write what ``keep`` collected: a delete per attribute name for what was filed before,
    and one insert."""
    pending: dict[tuple[str, str], tuple[bool, dict[str, Any] | None]] = session.info.pop(
        _PENDING, {})  # fmt: skip
    if not pending:
        return
    session.flush()  # the entities first: the places refer to them
    connection = session.connection()
    gone: dict[str, list[str]] = {}
    for (entity_id, attr), (filed, row) in pending.items():
        if filed and row is None:
            gone.setdefault(attr, []).append(entity_id)
    table = cast(Table, EntityPlace.__table__)
    for attr, ids in gone.items():
        for start in range(0, len(ids), 1000):
            connection.execute(delete(table).where(
                table.c.attr == attr, table.c.entity_id.in_(ids[start : start + 1000])))  # fmt: skip
    rows = [row for _, row in pending.values() if row is not None]
    rows = _moved(connection, table, rows, [k for k, (filed, row) in pending.items()
                                             if filed and row is not None])  # fmt: skip
    if rows and connection.dialect.name == "postgresql":  # the batch as one JSON document
        connection.exec_driver_sql(_UPSERT_MANY, (orjson.dumps(rows).decode(),))
    elif rows:  # filed again where it moved; a place written unchanged is left as it is
        upsert = sqlite_insert(table)
        moved = or_(*(table.c[c] != upsert.excluded[c] for c in _COLUMNS))
        connection.execute(upsert.on_conflict_do_update(
            index_elements=["entity_id", "attr"], set_={c: upsert.excluded[c] for c in _COLUMNS},
            where=moved), rows)  # fmt: skip


def _moved(connection: Any, table: Table, rows: list[dict[str, Any]],
           known: list[tuple[str, str]]) -> list[dict[str, Any]]:  # fmt: skip
    """The rows whose place is new or differs from the one filed: what an update of an entity
    that stayed where it was need not write (read in one indexed look-up per thousand)."""
    if not known:
        return rows
    filed: dict[tuple[str, str], tuple[Any, ...]] = {}
    ids = sorted({e for e, _ in known})
    for start in range(0, len(ids), 1000):
        for r in connection.execute(select(table.c.entity_id, table.c.attr,
                                           *(table.c[c] for c in _COLUMNS)).where(
                table.c.entity_id.in_(ids[start : start + 1000]))):  # fmt: skip
            filed[(r[0], r[1])] = tuple(r[2:])
    return [row for row in rows if filed.get((row["entity_id"], row["attr"])) !=
            tuple(row[c] for c in _COLUMNS)]  # fmt: skip


def begin_batch(session: Session) -> None:
    """From here places are collected, and written together by ``end_batch``."""
    session.info[_BATCH] = True


def end_batch(session: Session, *, write: bool = True) -> None:
    session.info.pop(_BATCH, None)
    if write:
        flush(session)
    else:
        session.info.pop(_PENDING, None)


def near(attribute: str, relation: str, high: float | None,
         bounds: tuple[float, float, float, float]) -> ColumnElement[bool] | None:  # fmt: skip
    """The condition on places that every entity meeting the geo-query meets (its candidates),
    or None where no box bounds the answer (``disjoint``, ``near`` with only a least distance):
    then every entity is a candidate."""
    if relation == "disjoint" or (relation == "near" and high is None):
        return None
    west, south, east, north = expand_m(*bounds, high) if relation == "near" and high else bounds
    ranges, ancestors, level = zorder_cover(west, south, east, north)
    # each term names the attribute too, so that each is one range of the (attr, zkey) index
    # (SQLite reads an OR through an index only when every term can use it alone)
    mine = EntityPlace.attr == attribute
    filed = [and_(mine, EntityPlace.zkey >= low, EntityPlace.zkey < top) for low, top in ranges]
    if ancestors:
        filed.append(and_(mine, EntityPlace.zkey.in_(ancestors), EntityPlace.zlevel < level))
    return and_(or_(*filed), EntityPlace.west <= east, EntityPlace.east >= west,
                EntityPlace.south <= north, EntityPlace.north >= south)  # fmt: skip
