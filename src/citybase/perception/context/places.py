"""Where entities are: the bounding box of each GeoProperty, kept beside the entity and filed
under its Z-order tile, so that geo-queries read candidates through an index.

Every write of an entity goes through ``keep`` (from ``service._changed``): the GeoProperties it
wrote are filed again, those it removed are dropped. Writes of one entity are filed at once; a
batch collects them and files them together at its end (``batched``)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, insert, or_, tuple_
from sqlalchemy.orm import Session

from citybase.core.geo import expand_m, zorder_cover, zorder_key
from citybase.perception.context.models import ContextEntity, EntityPlace, EntityState

_PENDING = "perception.places.pending"
_BATCH = "perception.places.batch"


def box(value: Any) -> tuple[float, float, float, float] | None:
    """A GeoJSON geometry's bounding box (west, south, east, north); None for anything else."""
    if not isinstance(value, dict):
        return None
    xs: list[float] = []
    ys: list[float] = []

    def walk(coords: Any) -> None:
        if isinstance(coords, list | tuple) and len(coords) >= 2 and all(
                isinstance(c, int | float) and not isinstance(c, bool) for c in coords[:2]):  # fmt: skip
            xs.append(float(coords[0]))
            ys.append(float(coords[1]))
        elif isinstance(coords, list | tuple):
            for c in coords:
                walk(c)

    if value.get("type") == "GeometryCollection":
        for geometry in value.get("geometries") or []:
            found = box(geometry)
            if found:
                xs += [found[0], found[2]]
                ys += [found[1], found[3]]
    else:
        walk(value.get("coordinates"))
    if not xs or not all(-180 <= x <= 180 for x in xs) or not all(-90 <= y <= 90 for y in ys):
        return None
    return min(xs), min(ys), max(xs), max(ys)


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
    removed: Collection[str] = (),
) -> None:  # fmt: skip
    """File again the GeoProperties among ``written``; drop ``removed`` and any written attribute
    that is no longer a geometry."""
    pending: dict[tuple[str, str], dict[str, Any] | None] = session.info.setdefault(_PENDING, {})
    for attr in written:
        pending[(entity.id, attr)] = row_for(entity.id, attr, entity.attrs.get(attr))
    for attr in removed:
        pending[(entity.id, attr)] = None
    if not session.info.get(_BATCH):
        flush(session)


def flush(session: Session) -> None:
    """Write what ``keep`` collected: one delete and one insert."""
    pending: dict[tuple[str, str], dict[str, Any] | None] = session.info.pop(_PENDING, {})
    if not pending:
        return
    session.flush()  # the entities first: the places refer to them
    keys = list(pending)
    for start in range(0, len(keys), 500):
        session.execute(delete(EntityPlace).where(
            tuple_(EntityPlace.entity_id, EntityPlace.attr).in_(keys[start : start + 500])))  # fmt: skip
    rows = [r for r in pending.values() if r is not None]
    if rows:
        session.execute(insert(EntityPlace), rows)


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
    filed = [and_(EntityPlace.zkey >= low, EntityPlace.zkey < top) for low, top in ranges]
    if ancestors:
        filed.append(and_(EntityPlace.zkey.in_(ancestors), EntityPlace.zlevel < level))
    return and_(EntityPlace.attr == attribute, or_(*filed), EntityPlace.west <= east,
                EntityPlace.east >= west, EntityPlace.south <= north,
                EntityPlace.north >= south)  # fmt: skip
