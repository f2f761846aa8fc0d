"""Geo-queries read their candidates through the places index: the same answers as judging every
entity, through every way an entity is written."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core import geo
from citybase.core.db.engine import make_engine
from citybase.core.db.migrate import alembic_config, upgrade
from citybase.perception.context import batch, jsonld, places, updates
from citybase.perception.context import geo as context_geo
from citybase.perception.context import service as context
from citybase.perception.context.models import ContextEntity, EntityPlace

CORE: list[object] = [jsonld.CORE_URL]
LOCATION = "https://uri.etsi.org/ngsi-ld/location"


def _point(lon: float, lat: float) -> dict[str, object]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def _square(lon: float, lat: float, side: float) -> dict[str, object]:
    ring = [[lon, lat], [lon + side, lat], [lon + side, lat + side], [lon, lat + side], [lon, lat]]
    return {"type": "GeoProperty", "value": {"type": "Polygon", "coordinates": [ring]}}


def _everything(session: Session, relation: str, geometry: str, coordinates: str) -> list[str]:
    """The answer by judging every entity, as before there was an index."""
    how, low, high, shape = context_geo.parse_geo(relation, geometry, coordinates)
    rows = session.scalars(select(ContextEntity).order_by(ContextEntity.id))
    return [r.id for r in rows if context_geo.geo_matches(r, LOCATION, how, low, high, shape)]


def _indexed(session: Session, relation: str, geometry: str, coordinates: str) -> list[str]:
    found, total = context.query(session, CORE, types=["Thing"], geo=(relation, geometry,
                                                                      coordinates), limit=1000)  # fmt: skip
    assert total == len(found)
    return [e["id"] for e in found]


def test_the_index_answers_as_a_full_scan_would(session: Session) -> None:
    rng = random.Random(7)
    items = []
    for n in range(400):
        lon, lat = 119.30 + rng.uniform(-0.1, 0.1), 26.08 + rng.uniform(-0.1, 0.1)
        where = _point(lon, lat) if n % 4 else _square(lon, lat, rng.choice([0.0005, 0.01, 0.05]))
        items.append({"id": f"urn:ngsi-ld:Thing:{n:03d}", "type": "Thing", "location": where})
    done, refused, _ = batch.upsert_many(session, items, CORE)
    assert (len(done), refused) == (400, [])
    assert session.scalar(select(func.count()).select_from(EntityPlace)) == 400
    for _ in range(15):
        lon, lat = 119.30 + rng.uniform(-0.1, 0.1), 26.08 + rng.uniform(-0.1, 0.1)
        point = json.dumps([lon, lat])
        side = rng.choice([0.001, 0.01, 0.04])
        ring = json.dumps([[[lon, lat], [lon + side, lat], [lon + side, lat + side],
                            [lon, lat + side], [lon, lat]]])  # fmt: skip
        for query in (
            (f"near;maxDistance=={rng.choice([50, 500, 3000])}", "Point", point),
            ("near;minDistance==2000", "Point", point),
            ("within", "Polygon", ring), ("intersects", "Polygon", ring),
            ("contains", "Point", point), ("overlaps", "Polygon", ring),
            ("disjoint", "Polygon", ring),
        ):  # fmt: skip
            assert _indexed(session, *query) == _everything(session, *query), query


def test_every_write_keeps_the_places(session: Session) -> None:
    def filed() -> dict[str, tuple[float, float]]:
        return {e: (w, s) for e, w, s in session.execute(
            select(EntityPlace.entity_id, EntityPlace.west, EntityPlace.south))}  # fmt: skip

    made = {"id": "urn:ngsi-ld:Thing:a", "type": "Thing", "location": _point(119.3, 26.08)}
    context.create(session, made, CORE)
    assert filed() == {"urn:ngsi-ld:Thing:a": (119.3, 26.08)}
    updates.update_attrs(session, "urn:ngsi-ld:Thing:a", {"location": _point(119.31, 26.09)}, CORE)
    assert filed()["urn:ngsi-ld:Thing:a"] == (119.31, 26.09)
    updates.patch_attr(session, "urn:ngsi-ld:Thing:a", "location", _point(119.32, 26.1), CORE)
    assert filed()["urn:ngsi-ld:Thing:a"] == (119.32, 26.1)
    updates.delete_attr(session, "urn:ngsi-ld:Thing:a", "location", CORE)
    assert filed() == {}
    updates.append_attrs(session, "urn:ngsi-ld:Thing:a", {"location": _point(119.33, 26.1)}, CORE)
    assert filed()["urn:ngsi-ld:Thing:a"] == (119.33, 26.1)
    updates.replace(session, "urn:ngsi-ld:Thing:a", {"id": "urn:ngsi-ld:Thing:a", "type": "Thing",
                    "name": {"type": "Property", "value": "x"}}, CORE)  # fmt: skip
    assert filed() == {}
    batch.upsert(session, made, CORE)
    assert filed() == {"urn:ngsi-ld:Thing:a": (119.3, 26.08)}
    _, refused, _ = batch.upsert_many(
        session, [{"id": "urn:ngsi-ld:Thing:a", "type": "Thing",
                   "location": {"type": "Property", "value": "no longer a place"}}],
        CORE, replace_all=False)  # fmt: skip
    assert refused  # location is always a GeoProperty
    assert filed() == {"urn:ngsi-ld:Thing:a": (119.3, 26.08)}
    updates.delete_attr(session, "urn:ngsi-ld:Thing:a", "location", CORE)
    updates.append_attrs(session, "urn:ngsi-ld:Thing:a", {"area": _point(119.34, 26.1)}, CORE)
    assert filed() == {"urn:ngsi-ld:Thing:a": (119.34, 26.1)}
    batch.upsert_many(session, [{"id": "urn:ngsi-ld:Thing:a", "type": "Thing",
                                   "area": {"type": "Property", "value": "no longer a place"}}],
                        CORE, replace_all=False)  # fmt: skip
    assert filed() == {}
    batch.upsert_many(session, [made, {**made, "id": "urn:ngsi-ld:Thing:b"}], CORE)
    assert set(filed()) == {"urn:ngsi-ld:Thing:a", "urn:ngsi-ld:Thing:b"}
    context.delete(session, "urn:ngsi-ld:Thing:b")
    session.flush()
    assert set(filed()) == {"urn:ngsi-ld:Thing:a"}


def test_pages_and_counts_without_reading_every_entity(session: Session) -> None:
    items = [{"id": f"urn:ngsi-ld:Thing:{n:03d}", "type": "Thing",
              "n": {"type": "Property", "value": n}} for n in range(50)]  # fmt: skip
    batch.upsert_many(session, items, CORE)
    page, total = context.query(session, CORE, types=["Thing"], limit=5, offset=10)
    assert ([e["id"][-3:] for e in page], total) == (["010", "011", "012", "013", "014"], 50)
    page, total = context.query(session, CORE, types=["Thing"], limit=3, offset=2, q="n>40",
                                count=False)  # fmt: skip
    assert ([e["id"][-3:] for e in page], total) == (["043", "044", "045"], None)
    page, total = context.query(session, CORE, types=["Thing"], limit=0, q="n>40")
    assert (page, total) == ([], 9)


def test_a_box_and_its_tile() -> None:
    assert places.box({"type": "Point", "coordinates": [119.3, 26.1]}) == (119.3, 26.1, 119.3, 26.1)
    assert places.box({"type": "LineString", "coordinates": [[1, 2], [3, -4]]}) == (1, -4, 3, 2)
    assert places.box({"type": "Point", "coordinates": [200, 0]}) is None
    assert places.box("not a geometry") is None
    level, _ = geo.zorder_key(119.3, 26.1, 119.3, 26.1)
    assert level == geo.ZLEVELS
    assert geo.zorder_key(-180, -90, 180, 90) == (0, 0)


@pytest.mark.parametrize("n", [3])
def test_the_migration_files_the_entities_already_kept(tmp_path: Path, n: int) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    upgrade(engine)
    with Session(engine) as session:
        batch.upsert_many(session, [{"id": f"urn:ngsi-ld:Thing:{i}", "type": "Thing",
                                       "location": _point(119.3 + i / 100, 26.08)}
                                      for i in range(n)], CORE)  # fmt: skip
        session.commit()
    command.downgrade(alembic_config(engine), "0026")
    upgrade(engine)
    with Session(engine) as session:
        rows = session.execute(select(EntityPlace.entity_id, EntityPlace.west)
                               .order_by(EntityPlace.entity_id)).all()  # fmt: skip
    assert [(e[-1], round(w, 2)) for e, w in rows] == [(str(i), 119.3 + i / 100) for i in range(n)]
    engine.dispose()
