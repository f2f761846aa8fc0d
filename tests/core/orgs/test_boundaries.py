from __future__ import annotations

import math
from collections import OrderedDict

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.errors import InvalidInput, NotFound
from citybase.core.identity.schemas import Role
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.core.orgs import boundaries
from citybase.core.orgs.boundaries import BoundaryWrite
from citybase.core.orgs.schemas import RegionLevel
from tests.core.identity.factories import make_user, sign_in
from tests.core.orgs.factories import (
    CITY,
    TEST_ACTOR,
    box,
    collection,
    feature,
    make_region,
    make_small_city,
)


def outline_small_city(session: Session) -> None:
    make_small_city(session)
    report = boundaries.import_boundaries(session, TEST_ACTOR, collection(*CITY), source="勘界")
    assert report.applied
    assert (report.created, report.problems) == (4, [])


def test_a_point_is_placed_in_every_region_that_holds_it(session: Session) -> None:
    outline_small_city(session)
    assert [r.code for r in boundaries.regions_at(session, 119.29, 26.08)] == [
        "350100", "350102", "350102001"]  # fmt: skip
    assert [r.code for r in boundaries.regions_at(session, 119.35, 26.10)] == ["350100", "350103"]
    # on the edge the two districts share: in both
    assert {r.code for r in boundaries.regions_at(session, 119.31, 26.10)} >= {"350102", "350103"}
    assert boundaries.regions_at(session, 118.0, 25.0) == []
    found = boundaries.region_at(session, 119.29, 26.08)
    assert found is not None
    assert found.code == "350102001"


def test_a_region_drawn_over_its_parents_edge_keeps_its_own_parent(session: Session) -> None:
    """A grid of 鼓楼区 drawn a little into 台江区: a point there is in 台江区, not in the grid."""
    outline_small_city(session)
    make_region(session, "350102001001", "虎节社区", RegionLevel.community, "350102001")
    make_region(session, "350102001001G01", "虎节社区第一网格", RegionLevel.grid, "350102001001",
                official=False)  # fmt: skip
    street = BoundaryWrite(geometry=box(119.28, 26.07, 119.31, 26.09))
    boundaries.set_boundary(session, TEST_ACTOR, "350102001", street)
    spill = BoundaryWrite(geometry=box(119.305, 26.08, 119.315, 26.085))
    boundaries.set_boundary(session, TEST_ACTOR, "350102001001G01", spill)
    found = boundaries.region_at(session, 119.312, 26.082)
    assert found is not None
    assert found.code == "350103"
    inside = boundaries.region_at(session, 119.307, 26.082)
    assert inside is not None
    assert inside.code == "350102001001G01"


def test_a_boundary_is_checked_and_kept_with_its_area(session: Session) -> None:
    make_small_city(session)
    written = boundaries.set_boundary(session, TEST_ACTOR, "350102",
                                      BoundaryWrite(geometry=box(119.2, 26.0, 119.3, 26.1),
                                                    source="民政局勘界成果"))  # fmt: skip
    # 0.1° × 0.1° at 26°N: 11.13 km × 10.0 km
    assert written.area_km2 == pytest.approx(111.4, rel=0.01)
    assert written.bbox == [119.2, 26.0, 119.3, 26.1]
    assert written.level is RegionLevel.district
    entries, _ = ledger.find_entries(session, LedgerFilter(action="region.boundary"))
    assert [e.object_id for e in entries] == ["350102"]
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    with pytest.raises(InvalidInput, match="Self-intersection"):
        boundaries.set_boundary(session, TEST_ACTOR, "350103", BoundaryWrite(geometry=bowtie))
    with pytest.raises(InvalidInput, match="longitude, latitude"):
        boundaries.set_boundary(session, TEST_ACTOR, "350103",
                                BoundaryWrite(geometry=box(26.0, 119.2, 26.1, 119.3)))  # fmt: skip
    with pytest.raises(InvalidInput, match="Polygon or MultiPolygon"):
        boundaries.set_boundary(session, TEST_ACTOR, "350103",
                                BoundaryWrite(geometry={"type": "Point", "coordinates": [1, 2]}))  # fmt: skip
    with pytest.raises(NotFound):
        boundaries.set_boundary(
            session, TEST_ACTOR, "999999", BoundaryWrite(geometry=box(0, 0, 1, 1))
        )
    boundaries.remove_boundary(session, TEST_ACTOR, "350102")
    with pytest.raises(NotFound, match="has no boundary"):
        boundaries.get_boundary(session, "350102")


def test_an_import_with_a_bad_feature_imports_nothing(session: Session) -> None:
    make_small_city(session)
    content = collection(
        feature("350102", box(119.2, 26.0, 119.3, 26.1), key="adcode"),
        feature("999999", box(119.3, 26.0, 119.4, 26.1), key="adcode"),
        feature("350102", box(119.2, 26.0, 119.3, 26.1), key="adcode"),
        {"type": "Feature", "properties": {}, "geometry": box(0, 0, 1, 1)},
        feature("350103", {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}, key="adcode"),
    )
    report = boundaries.import_boundaries(session, TEST_ACTOR, content)
    assert not report.applied
    assert [(p.row, p.field) for p in report.problems] == [
        (2, "properties"), (3, "properties"), (4, "properties"), (5, "geometry")]  # fmt: skip
    assert "no region with code 999999" in report.problems[0].message
    assert "repeats feature 1" in report.problems[1].message
    assert boundaries.collection(session)["features"] == []
    with pytest.raises(InvalidInput, match="FeatureCollection"):
        boundaries.import_boundaries(session, TEST_ACTOR, b'{"type": "Polygon"}')
    with pytest.raises(InvalidInput, match="cannot be read"):
        boundaries.import_boundaries(session, TEST_ACTOR, b"{")


def test_an_outline_reaching_outside_its_parents_is_imported_with_a_warning(
    session: Session,
) -> None:
    outline_small_city(session)
    make_region(session, "350102001001", "虎节社区", RegionLevel.community, "350102001")
    inside = feature("350102001001", box(119.285, 26.075, 119.29, 26.08))
    report = boundaries.import_boundaries(session, TEST_ACTOR, collection(inside))
    assert (report.applied, report.warnings) == (True, [])
    # half of it east of its street (the street is kept; the district comes in the same file)
    spilling = feature("350102001001", box(119.295, 26.075, 119.305, 26.08))
    district = feature("350102", box(119.20, 26.00, 119.30, 26.20))
    report = boundaries.import_boundaries(session, TEST_ACTOR, collection(district, spilling),
                                          dry_run=True)  # fmt: skip
    assert [(w.row, w.message) for w in report.warnings] == [
        (2, "50% of 350102001001 lies outside its parent 350102001")]  # fmt: skip
    assert not report.applied


def test_importing_again_tells_changed_from_same(session: Session) -> None:
    outline_small_city(session)
    moved = [*CITY[:3], feature("350102001", box(119.27, 26.07, 119.30, 26.09))]
    report = boundaries.import_boundaries(session, TEST_ACTOR, collection(*moved), source="勘界")
    assert (report.created, report.updated, report.unchanged) == (0, 1, 3)
    assert boundaries.region_at(session, 119.275, 26.08).code == "350102001"  # type: ignore[union-attr]


def test_boundaries_api(client: TestClient, session: Session) -> None:
    make_small_city(session)
    make_user(session, "admin", Role.platform_admin)
    make_user(session, "viewer", Role.viewer)
    csrf = sign_in(client, "admin")
    headers = {"X-CSRF-Token": csrf}
    imported = client.post("/api/v1/regions/boundaries", headers=headers,
                           files={"file": ("fz.geojson", collection(*CITY))},
                           params={"source": "勘界"})  # fmt: skip
    assert imported.status_code == 200, imported.text
    assert imported.json()["created"] == 4
    bad = client.post("/api/v1/regions/boundaries", headers=headers,
                      files={"file": ("x.geojson", collection(feature("nope", box(0, 0, 1, 1))))})  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["error"]["message"].startswith("feature 1, properties: no region")
    put = client.put("/api/v1/regions/350103/boundary", headers=headers,
                     json={"geometry": box(119.31, 26.0, 119.45, 26.2), "source": "修测"})  # fmt: skip
    assert put.status_code == 200
    assert put.json()["source"] == "修测"
    sign_in(client, "viewer")
    districts = client.get("/api/v1/regions/boundaries", params={"level": "district"})
    assert districts.headers["content-type"] == "application/geo+json"
    assert [f["id"] for f in districts.json()["features"]] == ["350102", "350103"]
    one = client.get("/api/v1/regions/350102001/boundary").json()
    assert one["properties"]["level"] == "street"
    assert one["geometry"]["type"] == "Polygon"
    at = client.get("/api/v1/regions/at", params={"lon": 119.29, "lat": 26.08}).json()
    assert [r["code"] for r in at] == ["350100", "350102", "350102001"]
    assert client.get("/api/v1/regions/350102/boundary").status_code == 200
    refused = client.delete("/api/v1/regions/350102/boundary", headers=headers)
    assert refused.status_code == 403
    assert client.get("/api/v1/regions/at", params={"lon": 500, "lat": 26}).status_code == 422


def test_an_outline_is_drawn_to_scale() -> None:
    square = {"type": "Polygon", "coordinates": [[[119, 26], [119.1, 26], [119.1, 26.1],
                                                  [119, 26.1], [119, 26]]]}  # fmt: skip
    feature = {"type": "Feature", "geometry": square, "properties": {"code": "x", "name": "x"}}
    drawn = boundaries.drawing([feature], width=100, pad=0)
    assert drawn is not None
    # a tenth of a degree of latitude at 26°N is 1/cos(26°) times a tenth of longitude
    assert drawn.height == round(100 / math.cos(math.radians(26.05)))
    assert drawn.shapes[0].path.startswith("M0.0,111.3 L100.0,111.3 L100.0,0.0 L0.0,0.0 Z")
    assert drawn.point(119.05, 26.05) == (50.0, 55.7)
    assert drawn.point(120, 26.05) is None


def test_an_outline_is_filed_under_the_smallest_tile_that_holds_it() -> None:
    key = boundaries.tile(119.29, 26.07, 119.30, 26.08)
    level = int(key.split("/")[0])
    assert 12 <= level <= 16  # a tile of a few hundredths of a degree
    assert key in boundaries.tiles_at(119.295, 26.075)
    assert key in boundaries.tiles_at(119.30, 26.08)  # the corner is in it too
    assert key not in boundaries.tiles_at(119.40, 26.075)
    # straddling the prime meridian: only the whole earth holds it
    assert boundaries.tile(-0.1, 51.4, 0.1, 51.6) == "0/0/0"
    # the earth's last edge (180°E, 90°N) belongs to the last tile of a level
    assert boundaries.tile(179.0, 89.0, 180.0, 90.0) == "7/127/127"


def test_only_the_outlines_last_used_are_kept_parsed(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    outline_small_city(session)
    monkeypatch.setattr(boundaries, "KEPT_SHAPES", 2)
    monkeypatch.setattr(boundaries, "_shapes", OrderedDict())
    for _ in range(2):  # read back after being let go, the answers are the same
        assert [r.code for r in boundaries.regions_at(session, 119.35, 26.10)] == [
            "350100",
            "350103",
        ]
        assert boundaries.region_at(session, 119.29, 26.08).code == "350102001"  # type: ignore[union-attr]
        assert len(boundaries._shapes) == 2
