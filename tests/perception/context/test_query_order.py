"""Entity queries: orderBy, the pages' Link headers and the datasetId parameter."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from tests.core.identity.factories import make_user, sign_in

JSON = {"Content-Type": "application/json"}
ENTITIES = "/ngsi-ld/v1/entities"


def _spots(client: TestClient, session: Session) -> None:
    make_user(session, "water", Role.unit_admin, unit=None)
    h = {"X-CSRF-Token": sign_in(client, "water"), **JSON}
    for key, name, level, lon in (("b", "Zebra", 3, 9.0), ("a", "Ähre", "x", 8.5),
                                  ("c", "Mole", 1, 20.0)):  # fmt: skip
        made = client.post(ENTITIES, headers=h, content=json.dumps({
            "id": f"urn:ngsi-ld:Spot:{key}", "type": "Spot",
            "name": {"type": "Property", "value": name},
            "level": {"type": "Property", "value": level},
            "note": [{"type": "Property", "value": f"{key}-0"},
                     {"type": "Property", "value": f"{key}-1", "datasetId": "urn:ds:1"}],
            "location": {"type": "GeoProperty",
                         "value": {"type": "Point", "coordinates": [lon, 40.0]}}}))  # fmt: skip
        assert made.status_code == 201, made.text


def _ids(client: TestClient, **params: str) -> list[str]:
    answer = client.get(ENTITIES, params={"type": "Spot", **params})
    assert answer.status_code == 200, answer.text
    return [e["id"].rsplit(":", 1)[1] for e in answer.json()]


def test_entities_are_ordered_as_asked(client: TestClient, session: Session) -> None:
    _spots(client, session)
    assert _ids(client) == ["a", "b", "c"]  # by id without orderBy
    assert _ids(client, orderBy="name") == ["c", "b", "a"]  # code points: M, Z, then Ä
    assert _ids(client, orderBy="name;desc") == ["a", "b", "c"]
    assert _ids(client, orderBy="name", collation="de-u-co-phonebk") == ["a", "c", "b"]
    assert _ids(client, orderBy="level") == ["c", "b", "a"]  # numbers before strings
    assert _ids(client, orderBy="level;desc") == ["a", "b", "c"]  # the same order reversed
    assert _ids(client, orderBy="createdAt;desc") == ["c", "a", "b"]
    near = _ids(client, orderBy="location;dist-asc", orderFrom="[8,40]")
    assert near == ["a", "b", "c"]
    assert _ids(client, orderBy="location;dist-desc", orderFrom="[8,40]") == ["c", "b", "a"]
    assert _ids(client, orderBy="name;desc", limit="1", offset="1") == ["b"]
    refused = client.get(ENTITIES, params={"type": "Spot", "orderBy": "location;dist-asc"})
    assert refused.status_code == 400
    assert client.get(ENTITIES, params={"type": "Spot", "orderBy": "name;sideways"}).status_code \
        == 400  # fmt: skip
    bad = client.get(ENTITIES, params={"type": "Spot", "orderBy": "name", "collation": "no!"})
    assert bad.status_code == 400
    posted = client.post("/ngsi-ld/v1/entityOperations/query", headers=JSON, content=json.dumps({
        "type": "Query", "entities": [{"type": "Spot"}],
        "ordering": {"orderBy": ["location;dist-asc"], "coordinates": [20, 40],
                     "geometry": "Point"}}))  # fmt: skip
    assert [e["id"][-1] for e in posted.json()] == ["c", "b", "a"]


def test_pages_link_to_their_neighbours_and_datasets_are_chosen(
    client: TestClient, session: Session
) -> None:
    _spots(client, session)
    first = client.get(ENTITIES, params={"type": "Spot", "limit": 1})
    links = [v.strip() for v in first.headers["Link"].split(",")]
    assert '</ngsi-ld/v1/entities?limit=1&offset=1&type=Spot>; rel="next"; ' \
        'type="application/json"' in links  # fmt: skip
    assert not any('rel="prev"' in v for v in links)
    middle = client.get(ENTITIES, params={"type": "Spot", "limit": 1, "offset": 1})
    assert 'rel="prev"' in middle.headers["Link"]
    assert 'rel="next"' in middle.headers["Link"]
    last = client.get(ENTITIES, params={"type": "Spot", "limit": 1, "offset": 2})
    assert 'rel="next"' not in last.headers["Link"]
    assert len(last.json()) == 1

    one = client.get(ENTITIES, params={"type": "Spot", "datasetId": "urn:ds:1"}).json()[0]
    assert one["note"] == {"type": "Property", "value": "a-1", "datasetId": "urn:ds:1"}
    default = client.get(ENTITIES, params={"type": "Spot", "datasetId": "@none"}).json()[0]
    assert default["note"] == {"type": "Property", "value": "a-0"}
    none = client.get(ENTITIES, params={"type": "Spot", "datasetId": "urn:ds:9"}).json()[0]
    assert "note" not in none
    assert "name" not in none  # a default instance only where @none is asked for


def test_a_json_property_keeps_the_nulls_inside_it(client: TestClient, session: Session) -> None:
    make_user(session, "water", Role.unit_admin, unit=None)
    h = {"X-CSRF-Token": sign_in(client, "water"), **JSON}
    json_value = {"id": "some-id", "null": None, "list": [1, None]}
    made = client.post(ENTITIES, headers=h, content=json.dumps({
        "id": "urn:ngsi-ld:Spot:j", "type": "Spot",
        "config": {"type": "JsonProperty", "json": json_value}}))  # fmt: skip
    assert made.status_code == 201, made.text
    assert client.get(f"{ENTITIES}/urn:ngsi-ld:Spot:j").json()["config"]["json"] == json_value
    null = client.post(ENTITIES, headers=h, content=json.dumps({
        "id": "urn:ngsi-ld:Spot:k", "type": "Spot",
        "config": {"type": "JsonProperty", "json": None}}))  # fmt: skip
    assert null.status_code == 400
