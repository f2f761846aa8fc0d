"""Linked entities (ETSI GS CIM 009, 4.5.23 and 4.21): projections into the entities a
Relationship links to, and queries that follow a Relationship (4.9, 5.7.2.4)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.perception.context import jsonld, linked
from citybase.perception.context import service as context
from citybase.perception.context.models import ContextEntity
from citybase.perception.context.service import BadRequestData, ReadScope
from tests.core.identity.factories import make_user, sign_in

ENTITIES = "/ngsi-ld/v1/entities"
CORE = jsonld.context_of(None)
TOWER = {"id": "urn:ngsi-ld:Building:tower", "type": "Building",
         "name": {"type": "Property", "value": "Gushan Tower"},
         "locatedAt": {"type": "Relationship", "object": "urn:ngsi-ld:City:fuzhou"}}  # fmt: skip
CITY = {"id": "urn:ngsi-ld:City:fuzhou", "type": "City",
        "name": {"type": "Property", "value": "Fuzhou"},
        "population": {"type": "Property", "value": 8_000_000},
        "isInProvince": {"type": "Relationship", "object": "urn:ngsi-ld:Province:fujian"}}  # fmt: skip
PROVINCE = {"id": "urn:ngsi-ld:Province:fujian", "type": "Province",
            "name": {"type": "Property", "value": "Fujian"},
            "capital": {"type": "Property", "value": "Fuzhou"}}  # fmt: skip


def _city(client: TestClient, session: Session) -> None:
    make_user(session, "urban", Role.unit_admin, unit=None)
    client.cookies.clear()
    h = {"X-CSRF-Token": sign_in(client, "urban"), "Content-Type": "application/json"}
    for entity in (TOWER, CITY, PROVINCE):
        assert client.post(ENTITIES, content=json.dumps(entity), headers=h).status_code == 201


def _get(client: TestClient, path: str, **params: Any) -> Any:
    answer = client.get(f"{ENTITIES}{path}", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize(("text", "tree", "deep"), [
    ("id,name", {"id": None, "name": None}, 0),
    ("id|locatedAt{name}", {"id": None, "locatedAt": {"name": None}}, 1),
    ("locatedAt{id,isInProvince{name}},name",
     {"locatedAt": {"id": None, "isInProvince": {"name": None}}, "name": None}, 2),
])  # fmt: skip
def test_a_projection_is_read_as_a_tree(text: str, tree: Any, deep: int) -> None:
    assert linked.parse_tree(text, "pick") == (tree, deep)


@pytest.mark.parametrize("text", ["a{b", "a}b", "a{}", "a,,b", "a{b}{c}", "a{b},a{c}", "{a}"])
def test_a_malformed_projection_is_refused(text: str) -> None:
    with pytest.raises(BadRequestData):
        linked.parse_tree(text, "pick")


def test_pick_into_linked_entities(client: TestClient, session: Session) -> None:
    """pick=id,locatedAt{name}: of the City only its name; the City's Relationship is not
    picked, so the Province is not joined, whatever joinLevel allows."""
    _city(client, session)
    inline = _get(client, f"/{TOWER['id']}", join="inline", joinLevel=2, pick="id,locatedAt{name}")
    assert inline == {"id": TOWER["id"], "locatedAt": {
        "type": "Relationship", "object": CITY["id"],
        "entity": {"name": {"type": "Property", "value": "Fuzhou"}}}}  # fmt: skip
    deep = _get(client, f"/{TOWER['id']}", join="flat", joinLevel=2,
                pick="id,locatedAt{id,isInProvince{id,capital}}")  # fmt: skip
    assert deep == [
        {"id": TOWER["id"], "locatedAt": {"type": "Relationship", "object": CITY["id"]}},
        {"id": CITY["id"], "isInProvince": {"type": "Relationship", "object": PROVINCE["id"]}},
        {"id": PROVINCE["id"], "capital": {"type": "Property", "value": "Fuzhou"}},
    ]
    # a linked entity without a projection of its own is shown whole
    whole = _get(client, f"/{TOWER['id']}", join="inline", pick="id,locatedAt")
    assert whole["locatedAt"]["entity"]["population"]["value"] == 8_000_000


def test_omit_into_linked_entities(client: TestClient, session: Session) -> None:
    """omit=type,locatedAt{name,isInProvince{capital}}: locatedAt stays, the City's name and
    the Province's capital go; the top-level omission does not reach linked entities."""
    _city(client, session)
    found = _get(client, f"/{TOWER['id']}", join="inline", joinLevel=2,
                 omit="type,locatedAt{name,isInProvince{capital}}")  # fmt: skip
    assert set(found) == {"id", "name", "locatedAt"}
    city = found["locatedAt"]["entity"]
    assert set(city) == {"id", "type", "population", "isInProvince"}
    assert set(city["isInProvince"]["entity"]) == {"id", "type", "name"}
    flat = _get(client, "", type="Building", join="flat", omit="name")
    assert [e["id"] for e in flat] == [TOWER["id"], CITY["id"]]
    assert "name" not in flat[0]
    assert flat[1]["name"]["value"] == "Fuzhou"


def test_projections_into_linked_entities_by_query_and_by_post(
    client: TestClient, session: Session
) -> None:
    _city(client, session)
    found = _get(client, "", type="Building", join="inline", pick="id,locatedAt{name}")
    assert found == [{"id": TOWER["id"], "locatedAt": {
        "type": "Relationship", "object": CITY["id"],
        "entity": {"name": {"type": "Property", "value": "Fuzhou"}}}}]  # fmt: skip
    body = {"type": "Query", "entities": [{"type": "Building"}], "join": "flat",
            "pick": ["id", "locatedAt{id}"]}  # fmt: skip
    posted = client.post("/ngsi-ld/v1/entityOperations/query", json=body)
    assert posted.status_code == 200, posted.text
    assert posted.json() == [
        {"id": TOWER["id"], "locatedAt": {"type": "Relationship", "object": CITY["id"]}},
        {"id": CITY["id"]}]  # fmt: skip


@pytest.mark.parametrize("params", [
    {"pick": "locatedAt{name}"},                                      # not joined
    {"pick": "locatedAt{isInProvince{name}}", "join": "inline"},      # deeper than joinLevel 1
    {"omit": "locatedAt{isInProvince{name}}", "join": "flat", "joinLevel": "1"},
    {"pick": "id,locatedAt{name", "join": "inline"},
])  # fmt: skip
def test_projections_deeper_than_the_join_are_refused(
    client: TestClient, session: Session, params: dict[str, str]
) -> None:
    _city(client, session)
    for path, extra in ((f"/{TOWER['id']}", {}), ("", {"type": "Building"})):
        answer = client.get(f"{ENTITIES}{path}", params={**params, **extra})
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"


def test_q_follows_a_relationship(client: TestClient, session: Session) -> None:
    """4.9: locatedAt{name}==… matches through the linked entity, locatedAt{City:name} only
    if it is a City; the query needs join, and no deeper than joinLevel (5.7.2.4)."""
    _city(client, session)

    def count(q: str, **params: str) -> int:
        answer = client.get(ENTITIES, params={"type": "Building", "q": q, "count": "true",
                                              **params})  # fmt: skip
        assert answer.status_code == 200, answer.text
        return int(answer.headers["NGSILD-Results-Count"])

    assert count('locatedAt{name}=="Fuzhou"', join="inline") == 1
    assert count('locatedAt{name}=="Xiamen"', join="inline") == 0
    assert count('locatedAt{City:name}=="Fuzhou"', join="inline") == 1
    assert count('locatedAt{Province:name}=="Fuzhou"', join="inline") == 0
    assert count("locatedAt{population}>1000000", join="flat") == 1
    assert count('locatedAt{isInProvince{name}}=="Fujian"', join="flat", joinLevel="2") == 1
    assert count('locatedAt{isInProvince{name}}=="Fujian";name=="Gushan Tower"', join="flat",
                 joinLevel="2") == 1  # fmt: skip
    for params in ({}, {"join": "inline", "joinLevel": "1"}):
        refused = client.get(
            ENTITIES,
            params={"type": "Building", **params, "q": 'locatedAt{isInProvince{name}}=="Fujian"'},
        )
        assert refused.status_code == 400, params
        assert refused.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"


def test_q_does_not_follow_into_an_entity_the_reader_may_not_see(session: Session) -> None:
    """A linked entity of another unit, of a type not open to every reader, meets no linked
    path: its values are not revealed through the entities that link to it."""
    for entity in (TOWER, CITY):
        context.create(session, entity, CORE)
    tower, city = session.get(ContextEntity, TOWER["id"]), session.get(ContextEntity, CITY["id"])
    assert tower is not None
    assert city is not None
    tower.unit, city.unit = "fz.urban", "fz.secret"
    session.flush()
    q = 'locatedAt{name}=="Fuzhou"'
    both = ReadScope(units=frozenset({"fz.urban", "fz.secret"}))
    assert [e["id"] for e in context.query(session, CORE, types=["Building"], q=q,
                                           scope=both)[0]] == [TOWER["id"]]  # fmt: skip
    own = ReadScope(units=frozenset({"fz.urban"}))
    assert context.query(session, CORE, types=["Building"], q=q, scope=own)[0] == []
    assert context.query(session, CORE, types=["Building"], q="!" + q.split("==")[0],
                         scope=own)[0] != []  # fmt: skip


def test_purge_follows_no_linked_entity(client: TestClient, session: Session) -> None:
    _city(client, session)
    h = {"X-CSRF-Token": sign_in(client, "urban")}
    refused = client.delete(ENTITIES, params={"type": "Building", "attrs": "locatedAt{name}"},
                            headers=h)  # fmt: skip
    assert refused.status_code == 400
    assert client.get(f"{ENTITIES}/{TOWER['id']}").status_code == 200
