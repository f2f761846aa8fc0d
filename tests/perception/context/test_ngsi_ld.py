from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.perception.context import batch, contexts, jsonld
from citybase.perception.context import service as context
from tests.core.identity.factories import make_user, sign_in

USER_CTX = "https://example.org/fuzhou/context.jsonld"
LINK = f'<{USER_CTX}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
GAUGE = {
    "id": "urn:ngsi-ld:WaterLevel:baima-01", "type": "WaterLevelObserved",
    "level": {"type": "Property", "value": 3.2, "unitCode": "MTR",
              "observedAt": "2026-11-30T02:00:00Z", "accuracy": {"type": "Property", "value": 0.01}},
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [119.286, 26.079]}},
    "river": {"type": "Relationship", "object": "urn:ngsi-ld:River:baima"},
}  # fmt: skip


def _headers(client: TestClient, user: str, **extra: str) -> dict[str, str]:
    client.cookies.clear()
    return {"X-CSRF-Token": sign_in(client, user), **extra}


def test_entities_in_the_readers_own_terms(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    make_user(session, "water", Role.unit_admin, unit=None)
    make_user(session, "reader", Role.viewer, unit=None)
    folder = tmp_path / "contexts"
    folder.mkdir()
    (folder / "context.jsonld").write_text(json.dumps({"@context": {
        "WaterLevelObserved": "https://smartdatamodels.org/WaterLevelObserved",
        "level": "https://smartdatamodels.org/level"}}))  # fmt: skip
    assert contexts.load_contexts(session, folder, "https://example.org/fuzhou") == [USER_CTX]

    h = _headers(client, "water", **{"Content-Type": "application/json", "Link": LINK})
    made = client.post("/ngsi-ld/v1/entities/", content=json.dumps(GAUGE), headers=h)
    assert made.status_code == 201, made.text
    assert made.headers["Location"] == "/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevel:baima-01"
    again = client.post("/ngsi-ld/v1/entities", content=json.dumps(GAUGE), headers=h)
    assert again.status_code == 409
    assert again.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/AlreadyExists"

    client.cookies.clear()
    sign_in(client, "reader")
    # with the same context: the same short names
    got = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevel:baima-01", headers={"Link": LINK})
    body = got.json()
    assert (body["type"], body["level"]["value"], body["level"]["accuracy"]["value"]) == (
        "WaterLevelObserved", 3.2, 0.01)  # fmt: skip
    assert USER_CTX in got.headers["Link"]
    # with the core context only: the full IRIs the processor expanded them to
    core = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevel:baima-01").json()
    assert core["type"] == "https://smartdatamodels.org/WaterLevelObserved"
    assert core["https://smartdatamodels.org/level"]["value"] == 3.2
    assert core["location"]["value"]["type"] == "Point"  # a core term stays short
    kv = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevel:baima-01",
                    params={"options": "keyValues"}, headers={"Link": LINK}).json()  # fmt: skip
    assert (kv["level"], kv["river"]) == (3.2, "urn:ngsi-ld:River:baima")
    ld = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevel:baima-01",
                    headers={"Link": LINK, "Accept": "application/ld+json"})  # fmt: skip
    assert ld.headers["content-type"].startswith("application/ld+json")
    assert ld.json()["@context"] == USER_CTX

    found = client.get("/ngsi-ld/v1/entities", params={"type": "WaterLevelObserved", "count": "true"},
                       headers={"Link": LINK})  # fmt: skip
    assert found.headers["NGSILD-Results-Count"] == "1"
    assert [e["id"] for e in found.json()] == ["urn:ngsi-ld:WaterLevel:baima-01"]
    assert client.get("/ngsi-ld/v1/entities", params={"type": "WaterLevelObserved"}).json() == []
    by_pattern = client.get("/ngsi-ld/v1/entities", params={"idPattern": "baima", "attrs": "level"},
                            headers={"Link": LINK}).json()  # fmt: skip
    assert list(by_pattern[0]) == ["id", "type", "level"]
    assert client.get("/ngsi-ld/v1/entities").status_code == 400  # no filter at all

    unknown = client.get("/ngsi-ld/v1/entities/urn:x",
                         headers={"Link": '<https://nowhere.example/c.jsonld>; '
                                          'rel="http://www.w3.org/ns/json-ld#context"'})  # fmt: skip
    assert unknown.status_code == 504  # LdContextNotAvailable is a 504 since 1.8.1 (6.3.2)
    assert unknown.json()["type"].endswith("/LdContextNotAvailable")
    missing = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Nothing:1")
    assert missing.status_code == 404
    assert missing.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"


def test_bad_entities_are_refused_with_problem_details(
    client: TestClient, session: Session
) -> None:
    make_user(session, "water", Role.unit_admin, unit=None)
    h = _headers(client, "water", **{"Content-Type": "application/json"})
    cases = [
        ({"id": "not a uri", "type": "T"}, "id"),
        ({"id": "urn:a:1"}, "type"),
        ({"id": "urn:a:1", "type": "T", "x": {"type": "Thing", "value": 5}}, "x"),
        ({"id": "urn:a:1", "type": "T", "x": {"type": "Property"}}, "x"),
        ({"id": "urn:a:1", "type": "T", "r": {"type": "Relationship", "object": "no"}}, "r"),
        ({"id": "urn:a:1", "type": "T", "location": {"type": "GeoProperty", "value": {
            "type": "Point", "coordinates": [200, 95]}}}, "location"),
    ]  # fmt: skip
    for body, where in cases:
        refused = client.post("/ngsi-ld/v1/entities", content=json.dumps(body), headers=h)
        assert refused.status_code == 400, (body, refused.text)
        assert refused.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
        assert where in refused.json()["detail"]
    malformed = client.post("/ngsi-ld/v1/entities", content=b"{", headers=h)
    assert malformed.json()["type"].endswith("/InvalidRequest")
    inline = client.post("/ngsi-ld/v1/entities", headers={**h, "Content-Type": "application/ld+json"},
                         content=json.dumps({**GAUGE, "@context": [{"level": "https://x.org/level"},
                                                                   jsonld.CORE_URL]}))  # fmt: skip
    assert inline.status_code == 201, inline.text
    stored = context.retrieve(session, GAUGE["id"], jsonld.context_of(None))
    assert "https://x.org/level" in stored
    assert client.delete(f"/ngsi-ld/v1/entities/{GAUGE['id']}", headers=h).status_code == 204
    assert client.delete(f"/ngsi-ld/v1/entities/{GAUGE['id']}", headers=h).status_code == 404


def test_attributes_and_batches(client: TestClient, session: Session) -> None:
    make_user(session, "water", Role.unit_admin, unit=None)
    h = _headers(client, "water", **{"Content-Type": "application/json"})
    url = f"/ngsi-ld/v1/entities/{GAUGE['id']}"
    assert (
        client.post("/ngsi-ld/v1/entities", content=json.dumps(GAUGE), headers=h).status_code == 201
    )
    extra = {
        "battery": {"type": "Property", "value": 90},
        "level": {"type": "Property", "value": 9},
    }
    kept = client.post(f"{url}/attrs", params={"options": "noOverwrite"}, content=json.dumps(extra),
                       headers=h)  # fmt: skip
    assert kept.status_code == 207
    assert kept.json() == {"updated": ["battery"],
                           "notUpdated": [{"attributeName": "level",
                                           "reason": "exists; noOverwrite"}]}  # fmt: skip
    now = context.retrieve(session, GAUGE["id"], jsonld.context_of(None), form="keyValues")
    assert (now["level"], now["battery"]) == (3.2, 90)
    update = {"level": {"type": "Property", "value": 3.4}, "flow": {"type": "Property", "value": 1}}
    partly = client.patch(f"{url}/attrs", content=json.dumps(update), headers=h)
    assert partly.status_code == 207
    assert client.patch(f"{url}/attrs/level", content=json.dumps({"value": 3.5}), headers=h
                        ).status_code == 204  # fmt: skip
    level = context.retrieve(session, GAUGE["id"], jsonld.context_of(None))["level"]
    assert level == {"type": "Property", "value": 3.5}  # the update replaced it; the patch merged
    assert client.patch(f"{url}/attrs/nothing", content=json.dumps({"value": 1}), headers=h
                        ).status_code == 404  # fmt: skip
    assert client.delete(f"{url}/attrs/battery", headers=h).status_code == 204
    assert client.delete(f"{url}/attrs/battery", headers=h).status_code == 404
    replaced = {"id": GAUGE["id"], "type": "WaterLevelObserved",
                "level": {"type": "Property", "value": 1.0}}  # fmt: skip
    assert client.put(url, content=json.dumps(replaced), headers=h).status_code == 204
    assert set(context.retrieve(session, GAUGE["id"], jsonld.context_of(None))) == {
        "id", "type", "level"}  # fmt: skip

    two = [{"id": f"urn:ngsi-ld:WaterLevel:{n}", "type": "WaterLevelObserved",
            "level": {"type": "Property", "value": n}} for n in (1, 2)]  # fmt: skip
    made = client.post("/ngsi-ld/v1/entityOperations/create", content=json.dumps(two), headers=h)
    assert (made.status_code, made.json()) == (201, [e["id"] for e in two])
    mixed = client.post("/ngsi-ld/v1/entityOperations/create",
                        content=json.dumps([*two[:1], {**two[0], "id": "urn:ngsi-ld:WaterLevel:3"}]),
                        headers=h)  # fmt: skip
    assert mixed.status_code == 207
    assert mixed.json()["success"] == ["urn:ngsi-ld:WaterLevel:3"]
    assert mixed.json()["errors"][0]["error"]["type"].endswith("/AlreadyExists")
    upsert = [{**two[0], "level": {"type": "Property", "value": 7}}]
    assert client.post("/ngsi-ld/v1/entityOperations/upsert", content=json.dumps(upsert),
                       headers=h).status_code == 204  # fmt: skip
    assert context.retrieve(session, two[0]["id"], jsonld.context_of(None),
                            form="keyValues")["level"] == 7  # fmt: skip
    gone = client.post("/ngsi-ld/v1/entityOperations/delete",
                       content=json.dumps([two[0]["id"], "urn:ngsi-ld:Nothing:9"]), headers=h)  # fmt: skip
    assert gone.status_code == 207
    assert gone.json()["success"] == [two[0]["id"]]
    assert client.post("/ngsi-ld/v1/entityOperations/frobnicate", content="[]", headers=h
                       ).status_code == 404  # fmt: skip


def test_q_types_and_attributes(client: TestClient, session: Session) -> None:
    make_user(session, "water", Role.unit_admin, unit=None)
    h = _headers(client, "water", **{"Content-Type": "application/json"})
    gauges = [{"id": f"urn:ngsi-ld:WaterLevel:{n}", "type": "WaterLevelObserved",
               "level": {"type": "Property", "value": n}, "name": {"type": "Property",
                                                                  "value": f"g{n}"}}
              for n in (1, 2, 3, 4)]  # fmt: skip
    client.post("/ngsi-ld/v1/entityOperations/create", content=json.dumps(gauges), headers=h)
    client.post("/ngsi-ld/v1/entities", headers=h, content=json.dumps({
        "id": "urn:ngsi-ld:River:baima", "type": "River",
        "length": {"type": "Property", "value": 7.5}}))  # fmt: skip

    def ids(q: str) -> list[str]:
        found = client.get("/ngsi-ld/v1/entities", params={"type": "WaterLevelObserved", "q": q})
        assert found.status_code == 200, found.text
        return [e["id"].rsplit(":", 1)[1] for e in found.json()]

    assert ids("level>2") == ["3", "4"]
    assert ids("level>=2;level<4") == ["2", "3"]
    assert ids("level==1|level==4") == ["1", "4"]
    assert ids('name=="g2"') == ["2"]
    assert ids('level!=2;name!="g1"') == ["3", "4"]
    assert ids("level==2..3") == ["2", "3"]
    assert ids("level==1,4") == ["1", "4"]
    assert ids("level!=1,4") == ["2", "3"]
    assert ids('(level==1|level==2);name=="g2"') == ["2"]
    assert ids('level==1|level==2;name=="g2"') == ["1", "2"]  # ; binds tighter
    assert ids('name~="g[23]"') == ["2", "3"]
    assert ids('name!~="g[23]"') == ["1", "4"]
    client.post("/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevel:4/attrs", headers=h, content=json.dumps({
        "reading": {"type": "Property", "value": {"gauge": {"mm": 12}, "ok": True},
                    "observedAt": "2026-11-30T02:00:00Z",
                    "quality": {"type": "Property", "value": "good"}},
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Unit:water"}}))  # fmt: skip
    assert ids("reading") == ["4"]
    assert ids("!reading") == ["1", "2", "3"]
    assert ids("reading[gauge][mm]>10") == ["4"]
    assert ids("reading[ok]==true") == ["4"]
    assert ids('reading.quality=="good"') == ["4"]
    assert ids("reading.observedAt>=2026-11-30T01:00:00Z") == ["4"]
    assert ids("reading.observedAt<2026-11-30T01:00:00Z") == []
    assert ids("owner==urn:ngsi-ld:Unit:water") == ["4"]
    for wrong in ("level>>1", "(level==1", "level==", "level>1..3", 'name~="("'):
        refused = client.get(
            "/ngsi-ld/v1/entities", params={"type": "WaterLevelObserved", "q": wrong}
        )
        assert refused.status_code == 400, wrong
    bad = client.get("/ngsi-ld/v1/entities", params={"q": "level>>1"})
    assert (bad.status_code, bad.json()["type"]) == (
        400, "https://uri.etsi.org/ngsi-ld/errors/BadRequestData")  # fmt: skip
    listed = client.get("/ngsi-ld/v1/types").json()
    assert (listed["type"], sorted(listed["typeList"])) == ("EntityTypeList",
                                                            ["River", "WaterLevelObserved"])  # fmt: skip
    detailed = client.get("/ngsi-ld/v1/types", params={"details": "true"}).json()
    assert {d["typeName"]: d["attributeNames"] for d in detailed}["River"] == ["length"]
    assert client.get("/ngsi-ld/v1/attributes").json()["attributeList"] == [
        "length",
        "level",
        "name",
        "owner",
        "reading",
    ]


def test_geo_queries(client: TestClient, session: Session) -> None:
    make_user(session, "water", Role.unit_admin, unit=None)
    h = _headers(client, "water", **{"Content-Type": "application/json"})
    places = {"a": [119.2860, 26.0790], "b": [119.2900, 26.0800], "c": [119.3350, 26.0600]}
    entities = [{"id": f"urn:ngsi-ld:Gauge:{k}", "type": "Gauge", "location": {
        "type": "GeoProperty", "value": {"type": "Point", "coordinates": v}}}
        for k, v in places.items()]  # fmt: skip
    client.post("/ngsi-ld/v1/entityOperations/create", content=json.dumps(entities), headers=h)

    def ids(**params: str) -> list[str]:
        found = client.get("/ngsi-ld/v1/entities", params={"type": "Gauge", **params})
        assert found.status_code == 200, found.text
        return sorted(e["id"].rsplit(":", 1)[1] for e in found.json())

    # a is at the point; b some 420 m east; c over 5 km away
    near = {"georel": "near;maxDistance==1000", "geometry": "Point",
            "coordinates": "[119.2860, 26.0790]"}  # fmt: skip
    assert ids(**near) == ["a", "b"]
    assert ids(**{**near, "georel": "near;minDistance==1000"}) == ["c"]
    box = "[[[119.28, 26.07], [119.30, 26.07], [119.30, 26.09], [119.28, 26.09], [119.28, 26.07]]]"
    assert ids(georel="within", geometry="Polygon", coordinates=box) == ["a", "b"]
    assert ids(georel="disjoint", geometry="Polygon", coordinates=box) == ["c"]
    assert ids(georel="intersects", geometry="Polygon", coordinates=box) == ["a", "b"]
    assert ids(georel="equals", geometry="Point", coordinates="[119.335, 26.06]") == ["c"]
    for bad in ({"georel": "close", "geometry": "Point", "coordinates": "[1, 2]"},
                {"georel": "near", "geometry": "Point", "coordinates": "[1, 2]"},
                {"georel": "within", "geometry": "Polygon", "coordinates": "[[1, 2]]"},
                {"georel": "within"}):  # fmt: skip
        refused = client.get("/ngsi-ld/v1/entities", params={"type": "Gauge", **bad})
        assert refused.status_code == 400, bad
        assert refused.json()["type"].endswith("/BadRequestData")


def test_concise_and_geojson_forms(client: TestClient, session: Session) -> None:
    make_user(session, "water", Role.unit_admin, unit=None)
    h = _headers(client, "water", **{"Content-Type": "application/json"})
    concise = {
        "id": "urn:ngsi-ld:Gauge:1", "type": "Gauge", "level": 2.5, "name": "白马河",
        "depth": {"value": 4, "unitCode": "MTR", "accuracy": 0.1},
        "river": {"object": "urn:ngsi-ld:River:baima"},
        "location": {"type": "Point", "coordinates": [119.3, 26.08]},
        "tags": {"value": {"kind": "tidal"}},
    }  # fmt: skip
    made = client.post("/ngsi-ld/v1/entities", content=json.dumps(concise), headers=h)
    assert made.status_code == 201, made.text
    normal = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Gauge:1").json()
    assert normal["level"] == {"type": "Property", "value": 2.5}
    assert normal["depth"]["accuracy"] == {"type": "Property", "value": 0.1}
    assert normal["river"]["type"] == "Relationship"
    assert normal["location"]["type"] == "GeoProperty"
    assert normal["tags"] == {"type": "Property", "value": {"kind": "tidal"}}
    back = client.get(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:Gauge:1", params={"format": "concise"}
    ).json()
    assert back["level"] == 2.5
    assert back["depth"] == {"value": 4, "unitCode": "MTR", "accuracy": 0.1}
    assert back["river"] == {"object": "urn:ngsi-ld:River:baima"}
    assert back["tags"] == {"value": {"kind": "tidal"}}
    # what comes back concise goes in again as the same entity
    again = {**back, "id": "urn:ngsi-ld:Gauge:2"}
    assert (
        client.post("/ngsi-ld/v1/entities", content=json.dumps(again), headers=h).status_code == 201
    )
    twin = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Gauge:2").json()
    assert {**twin, "id": normal["id"]} == normal
    listed = client.get(
        "/ngsi-ld/v1/entities", params={"type": "Gauge", "options": "concise"}
    ).json()
    assert [e["level"] for e in listed] == [2.5, 2.5]
    assert (
        client.get("/ngsi-ld/v1/entities", params={"type": "Gauge", "format": "x"}).status_code
        == 400
    )

    geo = client.get("/ngsi-ld/v1/entities", params={"type": "Gauge", "options": "keyValues"},
                     headers={"Accept": "application/geo+json"})  # fmt: skip
    assert geo.headers["content-type"].startswith("application/geo+json")
    collection = geo.json()
    assert collection["type"] == "FeatureCollection"
    first = collection["features"][0]
    assert first["type"] == "Feature"
    assert first["geometry"] == {"type": "Point", "coordinates": [119.3, 26.08]}
    assert first["properties"]["level"] == 2.5
    assert first["properties"]["type"] == "Gauge"
    assert collection["@context"] == jsonld.CORE_URL
    one = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Gauge:1", params={"geometryProperty": "depth"},
                     headers={"Accept": "application/geo+json"}).json()  # fmt: skip
    assert one["type"] == "Feature"
    assert one["geometry"] is None  # depth is not a geometry
    # the core context under another of its published addresses is the built-in one
    v18 = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
    same = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Gauge:1", headers={
        "Link": f'<{v18}>; rel="http://www.w3.org/ns/json-ld#context"'})  # fmt: skip
    assert same.status_code == 200
    assert same.json()["level"]["value"] == 2.5
    # the core context in full: its terms keep their meaning, and a user context may not change it
    assert jsonld.expand_names(jsonld.context_of(None), {"description", "status"}, set())[0] == {
        "description": "http://purl.org/dc/terms/description",
        "status": "https://uri.etsi.org/ngsi-ld/status"}  # fmt: skip
    redefined = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Gauge:1", headers={
        "Link": '<https://example.org/bad.jsonld>; rel="http://www.w3.org/ns/json-ld#context"'})  # fmt: skip
    assert redefined.status_code == 504  # not kept here: nothing is fetched
    listed = client.post("/ngsi-ld/v1/entities", headers={**h, "Content-Type": "application/ld+json"},
                         content=json.dumps({"id": "urn:ngsi-ld:Gauge:3", "type": "Gauge", "level": 1,
                                             "@context": [{"location": "https://x.org/loc"}]}))  # fmt: skip
    assert listed.status_code == 400, listed.text  # a protected core term
    # a name the core context gives a list container comes back as its compact IRI
    maxed = {"id": "urn:ngsi-ld:Gauge:4", "type": "Gauge", "max": 9}
    assert (
        client.post("/ngsi-ld/v1/entities", content=json.dumps(maxed), headers=h).status_code == 201
    )
    assert (
        client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Gauge:4").json()["ngsi-ld:max"]["value"] == 9
    )


def test_batch_upserts_merge_or_replace_in_one_go(session: Session) -> None:
    core = jsonld.context_of(None)
    first = [{"id": f"urn:ngsi-ld:Gauge:{n}", "type": "Gauge", "level": n, "name": f"g{n}"}
             for n in range(3)]  # fmt: skip
    done, refused, created = batch.upsert_many(session, first, core)
    assert (len(done), refused, created) == (3, [], True)
    # merged: attributes given replace theirs whole, the others stay
    later = [{"id": "urn:ngsi-ld:Gauge:0", "type": "Gauge", "level": {"value": 7, "unitCode": "MTR"}},
             {"id": "urn:ngsi-ld:Gauge:1", "type": "Gauge", "depth": 2}, {"id": "bad"}]  # fmt: skip
    done, refused, created = batch.upsert_many(session, later, core, replace_all=False)
    assert (done, created) == (["urn:ngsi-ld:Gauge:0", "urn:ngsi-ld:Gauge:1"], False)
    assert [r[0] for r in refused] == ["bad"]
    session.expire_all()
    zero = context.retrieve(session, "urn:ngsi-ld:Gauge:0", core, form="concise")
    assert (zero["level"], zero["name"]) == ({"value": 7, "unitCode": "MTR"}, "g0")
    one = context.retrieve(session, "urn:ngsi-ld:Gauge:1", core, form="keyValues")
    assert (one["level"], one["depth"], one["name"]) == (1, 2, "g1")
    # replaced: only what is given remains
    batch.upsert_many(session, [{"id": "urn:ngsi-ld:Gauge:2", "type": "Gauge", "depth": 5}], core)
    session.expire_all()
    assert context.retrieve(session, "urn:ngsi-ld:Gauge:2", core, form="keyValues") == {
        "id": "urn:ngsi-ld:Gauge:2", "type": "Gauge", "depth": 5}  # fmt: skip
    again = batch.upsert_many(session, first[:1], core, create_only=True)
    assert again[1][0][1].code == "AlreadyExists"


def test_newer_attribute_kinds_datasets_and_refusals(client: TestClient, session: Session) -> None:
    make_user(session, "water", Role.unit_admin, unit=None)
    h = _headers(client, "water", **{"Content-Type": "application/json"})
    e = "urn:ngsi-ld:Bridge:minjiang-1"
    bridge = {
        "id": e, "type": "Bridge", "scope": "/Fuzhou/Gulou",
        "name": {"type": "LanguageProperty", "languageMap": {"zh": "闽江大桥", "en": "Minjiang Bridge"}},
        "spec": {"type": "JsonProperty", "json": {"spans": 7, "lanes": 4}},
        "category": {"type": "VocabProperty", "vocab": "road"},
        "loads": {"type": "ListProperty", "valueList": [1.2, 3.4]},
        "joins": {"type": "ListRelationship", "objectList": ["urn:ngsi-ld:Road:1"]},
        "speed": [{"type": "Property", "value": 40},
                  {"type": "Property", "value": 38, "datasetId": "urn:ngsi-ld:Dataset:radar"}],
    }  # fmt: skip
    made = client.post("/ngsi-ld/v1/entities", content=json.dumps(bridge), headers=h)
    assert made.status_code == 201, made.text
    simple = client.get(f"/ngsi-ld/v1/entities/{e}", params={"format": "simplified"}).json()
    assert simple["name"] == {"languageMap": {"zh": "闽江大桥", "en": "Minjiang Bridge"}}
    assert (simple["loads"], simple["joins"], simple["scope"]) == (
        [1.2, 3.4], ["urn:ngsi-ld:Road:1"], "/Fuzhou/Gulou")  # fmt: skip
    assert simple["speed"] == {"dataset": {"@none": 40, "urn:ngsi-ld:Dataset:radar": 38}}
    english = client.get(f"/ngsi-ld/v1/entities/{e}", params={"lang": "en"}).json()
    assert english["name"] == {"type": "Property", "value": "Minjiang Bridge", "lang": "en"}
    picked = client.get(f"/ngsi-ld/v1/entities/{e}", params={"pick": "id,category"}).json()
    assert picked == {"id": e, "category": {"type": "VocabProperty", "vocab": "road"}}
    found = client.get("/ngsi-ld/v1/entities", params={"type": "Bridge", "scopeQ": "/Fuzhou/#"})
    assert [x["id"] for x in found.json()] == [e]
    assert client.get("/ngsi-ld/v1/entities", params={"type": "Bridge",
                                                      "scopeQ": "/Xiamen/#"}).json() == []  # fmt: skip
    # one instance deleted by its datasetId, the default one left
    gone = client.delete(f"/ngsi-ld/v1/entities/{e}/attrs/speed",
                         params={"datasetId": "urn:ngsi-ld:Dataset:radar"}, headers=h)  # fmt: skip
    assert gone.status_code == 204
    assert client.get(f"/ngsi-ld/v1/entities/{e}").json()["speed"]["value"] == 40
    # merge-patch: a member of a compound value removed, an attribute removed by NGSI-LD null
    patch = {"spec": {"json": {"spans": 8}}, "category": "urn:ngsi-ld:null"}
    assert client.patch(f"/ngsi-ld/v1/entities/{e}", content=json.dumps(patch),
                        headers=h).status_code == 204  # fmt: skip
    after = client.get(f"/ngsi-ld/v1/entities/{e}").json()
    assert "category" not in after
    assert after["spec"]["json"] == {"spans": 8}
    # the query by POST
    asked = client.post("/ngsi-ld/v1/entityOperations/query", headers=h, content=json.dumps(
        {"type": "Query", "entities": [{"type": "Bridge"}], "q": "speed==40"}))  # fmt: skip
    assert [x["id"] for x in asked.json()] == [e]
    # refused, and nothing stored
    refusals = [
        {"id": "urn:ngsi-ld:Bridge:\u200b2", "type": "Bridge"},
        {"id": "urn:ngsi-ld:Bridge:3", "type": "Bridge", "a": {"type": "Property", "value": None}},
        {"id": "urn:ngsi-ld:Bridge:4", "type": "Bridge", "scope": "/1digit"},
        {"id": "urn:ngsi-ld:Bridge:5", "type": "Bridge",
         "a": {"type": "Property", "value": 1, "@context": {}}},
        {"id": "urn:ngsi-ld:Bridge:6", "type": "Bridge", "speed": [
            {"type": "Property", "value": 1}, {"type": "Property", "value": 2}]},
        {"id": "urn:ngsi-ld:Bridge:7", "type": "Bridge",
         "a": {"type": "Property", "value": 1, "observedAt": "2026-01-01T08:00:00+08:00"}},
    ]  # fmt: skip
    for bad in refusals:
        answer = client.post("/ngsi-ld/v1/entities", content=json.dumps(bad), headers=h)
        assert answer.status_code == 400, bad
        assert answer.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert context.entity_count(session) == 1
    xml = client.post("/ngsi-ld/v1/entities", content="<e/>",
                      headers={**h, "Content-Type": "application/xml"})  # fmt: skip
    assert xml.status_code == 415
    assert client.get(f"/ngsi-ld/v1/entities/{e}",
                      headers={"Accept": "application/xml"}).status_code == 406  # fmt: skip
    assert client.get(f"/ngsi-ld/v1/entities/{e}", params={"nonsense": "1"}).status_code == 400


def test_a_request_naming_a_tenant_is_refused_and_changes_nothing(
    client: TestClient, session: Session
) -> None:
    """The store holds the default tenant only: an entity sent for another tenant is neither
    mixed into it nor is the default tenant's data read or deleted for that tenant."""
    make_user(session, "water", Role.unit_admin, unit=None)
    h = _headers(client, "water", **{"Content-Type": "application/json"})
    tenant = {**h, "NGSILD-Tenant": "district-a"}
    made = client.post("/ngsi-ld/v1/entities", content=json.dumps(GAUGE), headers=h)
    assert made.status_code == 201, made.text
    other = {**GAUGE, "id": "urn:ngsi-ld:WaterLevel:tenant-a", "type": "TenantOnly"}
    for method, path, body in (
        ("POST", "/ngsi-ld/v1/entities", json.dumps(other)),
        ("GET", f"/ngsi-ld/v1/entities/{GAUGE['id']}", None),
        ("GET", "/ngsi-ld/v1/types", None),
        ("DELETE", f"/ngsi-ld/v1/entities/{GAUGE['id']}", None),
    ):
        refused = client.request(method, path, content=body, headers=tenant)
        assert refused.status_code == 501, (method, path, refused.text)
        assert refused.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/NoMultiTenantSupport"
    types = client.get("/ngsi-ld/v1/types", headers=h).json()["typeList"]
    assert "TenantOnly" not in types
    assert client.get(f"/ngsi-ld/v1/entities/{GAUGE['id']}", headers=h).status_code == 200
    assert client.get(f"/ngsi-ld/v1/entities/{other['id']}", headers=h).status_code == 404
