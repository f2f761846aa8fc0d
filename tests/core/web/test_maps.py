"""The console's map: Leaflet served from its installed packages, outlines for it simplified
and public, the heat classes and their legend."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.orgs import boundaries
from citybase.core.web.maps import heat_class, heat_steps
from tests.core.orgs.test_boundaries import outline_small_city


def test_leaflet_is_served_from_its_package(client: TestClient) -> None:
    for path in ("/static/leaflet/leaflet.js", "/static/leaflet/leaflet.css",
                 "/static/leaflet-cluster/leaflet.markercluster.js",
                 "/static/leaflet-cluster/MarkerCluster.Default.css", "/static/core/map.js"):  # fmt: skip
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert len(answer.content) > 500, path


def test_outlines_for_the_map_are_simplified_and_public(
    client: TestClient, session: Session
) -> None:
    outline_small_city(session)
    answer = client.get("/regions/outlines?level=district")  # nobody signed in
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/geo+json")
    drawn = answer.json()
    stored = boundaries.collection(session, level=boundaries.RegionLevel.district)
    assert [f["id"] for f in drawn["features"]] == [f["id"] for f in stored["features"]]
    assert set(drawn["features"][0]["properties"]) == {"code", "name", "level", "updated"}
    one = client.get("/regions/outlines?code=350102").json()
    assert [f["id"] for f in one["features"]] == ["350102"]
    children = client.get("/regions/outlines?parent=350100").json()
    assert {f["properties"]["level"] for f in children["features"]} == {"district"}
    assert client.get("/regions/outlines?level=nowhere").status_code in (400, 422)
    assert len(json.dumps(drawn)) <= len(json.dumps(stored))


def test_heat_classes_step_by_the_largest_count() -> None:
    assert heat_class(0, 10) == 0
    assert heat_class(1, 10) == 1
    assert heat_class(10, 10) == 4
    assert [heat_class(n, 4) for n in range(5)] == [0, 1, 2, 3, 4]
    assert heat_steps(4) == ["0", "1", "2", "3", "4"]
    assert heat_steps(0) == ["0"]
    assert heat_steps(8) == ["0", "1–2", "3–4", "5–6", "7–8"]
    for top in (1, 2, 3, 5, 7, 10, 99, 1000):  # each step holds exactly the counts of its class
        for step in heat_steps(top)[1:]:
            lo, _, hi = step.partition("–")
            counts = range(int(lo), int(hi or lo) + 1)
            assert len({heat_class(n, top) for n in counts}) == 1, (top, step)
        covered = sum(len(range(int(s.partition("–")[0]), int(s.partition("–")[2] or s) + 1))
                      for s in heat_steps(top)[1:])  # fmt: skip
        assert covered == top
