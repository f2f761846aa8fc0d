"""Entities of several types: made, rendered, found by any of them or by a type expression,
counted under each, their types added by updates and set by replacement, and filed by the
migration that brought the types' table."""

from __future__ import annotations

import json
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core.db import migrate
from citybase.core.db.engine import Database
from citybase.core.identity.schemas import Role
from citybase.perception.context import batch, discovery, jsonld, updates
from citybase.perception.context import service as context
from citybase.perception.context.errors import BadRequestData, ResourceNotFound
from citybase.perception.context.models import EntityType
from tests.core.identity.factories import make_user, sign_in

CORE = jsonld.context_of(None)
EX = "https://example.org/"
OWN = [{"Building": EX + "Building", "Vehicle": EX + "Vehicle", "Tree": EX + "Tree",
        "height": EX + "height"}, *CORE]  # fmt: skip
B = "urn:ngsi-ld:Thing:both"


def _make(session: Session, entity_id: str, kind: Any, **attrs: Any) -> None:
    body = {"id": entity_id, "type": kind,
            **{k: {"type": "Property", "value": v} for k, v in attrs.items()}}  # fmt: skip
    context.create(session, body, OWN)


def _filed(session: Session, entity_id: str) -> set[str]:
    return set(session.scalars(select(EntityType.type).where(EntityType.entity_id == entity_id)))


def _ids(session: Session, *types: str) -> list[str]:
    return [e["id"] for e in context.query(session, OWN, types=list(types))[0]]


def test_an_entity_of_several_types_is_one_or_an_array_of_them(session: Session) -> None:
    _make(session, B, ["Building", "Vehicle", "Building"], height=3)
    _make(session, "urn:ngsi-ld:Thing:one", ["Tree"])
    shown = context.retrieve(session, B, OWN)
    assert shown["type"] == ["Building", "Vehicle"]  # each once, compacted by the context
    assert context.retrieve(session, B, CORE)["type"] == [EX + "Building", EX + "Vehicle"]
    assert context.retrieve(session, "urn:ngsi-ld:Thing:one", OWN)["type"] == "Tree"
    assert context.retrieve(session, B, OWN, form="keyValues")["type"] == ["Building", "Vehicle"]
    assert _filed(session, B) == {EX + "Building", EX + "Vehicle"}
    for bad in ([], ["Building", 3], ["1st"], [""]):
        with pytest.raises(BadRequestData):
            context.create(session, {"id": "urn:ngsi-ld:Thing:bad", "type": bad}, OWN)


def test_a_query_finds_it_by_any_of_its_types_or_an_expression(session: Session) -> None:
    _make(session, B, ["Building", "Vehicle"])
    _make(session, "urn:ngsi-ld:Thing:house", "Building")
    _make(session, "urn:ngsi-ld:Thing:car", "Vehicle")
    _make(session, "urn:ngsi-ld:Thing:oak", "Tree")
    house, car, oak = "urn:ngsi-ld:Thing:house", "urn:ngsi-ld:Thing:car", "urn:ngsi-ld:Thing:oak"
    assert _ids(session, "Building") == [B, house]
    assert _ids(session, "Vehicle") == [B, car]
    assert _ids(session, "(Building;Vehicle)") == [B]
    assert _ids(session, "Building;Vehicle") == [B]
    assert _ids(session, "Building", "Tree") == [B, house, oak]  # type=Building,Tree
    assert _ids(session, "Vehicle|Tree") == [B, car, oak]
    assert _ids(session, "(Building;Vehicle)|Tree") == [B, oak]
    assert _ids(session, "Building;Tree") == []
    assert context.query(session, OWN, types=["Building"], count=True)[1] == 2
    assert context.retrieve(session, B, OWN, types=["Vehicle"])["id"] == B
    with pytest.raises(ResourceNotFound):
        context.retrieve(session, B, OWN, types=["Tree"])
    for bad in ("(Building", "Building;", "Building)", ";"):
        with pytest.raises(BadRequestData):
            context.query(session, OWN, types=[bad])


def test_discovery_counts_it_under_each_of_its_types(session: Session) -> None:
    _make(session, B, ["Building", "Vehicle"], height=3)
    _make(session, "urn:ngsi-ld:Thing:house", "Building")
    held = discovery.types_and_attributes(session, OWN)
    assert held == {"Building": ["height"], "Vehicle": ["height"]}
    census = discovery.census(session, OWN)
    assert census[EX + "Building"][0] == 2
    assert census[EX + "Vehicle"][0] == 1


def test_updates_add_types_and_replacement_sets_them(session: Session) -> None:
    _make(session, B, "Building", height=3)
    updates.append_attrs(session, B, {"type": "Vehicle", "height": {"type": "Property",
                                                                    "value": 4}}, OWN)  # fmt: skip
    assert context.retrieve(session, B, OWN)["type"] == ["Building", "Vehicle"]
    updates.update_attrs(session, B, {"type": ["Building", "Tree"]}, OWN)
    assert context.retrieve(session, B, OWN)["type"] == ["Building", "Vehicle", "Tree"]
    updates.append_attrs(session, B, {"height": {"type": "Property", "value": 5}}, OWN)
    updates.merge(session, B, {"height": {"type": "Property", "value": 6}}, OWN)
    assert _filed(session, B) == {EX + "Building", EX + "Vehicle", EX + "Tree"}  # none taken
    updates.replace(session, B, {"type": "Tree", "height": {"type": "Property", "value": 1}}, OWN)
    assert context.retrieve(session, B, OWN)["type"] == "Tree"
    assert _filed(session, B) == {EX + "Tree"}
    assert _ids(session, "Building") == []
    updates.merge(session, B, {"type": ["Tree", "Vehicle"]}, OWN)
    assert context.retrieve(session, B, OWN)["type"] == ["Tree", "Vehicle"]
    assert _ids(session, "Vehicle") == [B]


def test_a_batch_upsert_sets_types_and_a_batch_update_adds_them(session: Session) -> None:
    item = {"id": B, "type": ["Building", "Vehicle"]}
    batch.upsert_many(session, [item], OWN)
    assert _ids(session, "Vehicle") == [B]
    batch.upsert_many(session, [{"id": B, "type": "Tree"}], OWN, replace_all=False)
    assert _filed(session, B) == {EX + "Building", EX + "Vehicle", EX + "Tree"}
    batch.upsert_many(session, [{"id": B, "type": "Tree"}], OWN)  # replacing: Tree alone
    assert _filed(session, B) == {EX + "Tree"}
    assert context.retrieve(session, B, OWN)["type"] == "Tree"
    context.delete(session, B)
    assert _filed(session, B) == set()


def test_the_migration_files_each_entity_under_its_one_type(fresh_db: Database) -> None:
    with fresh_db.session_scope() as session:
        _make(session, "urn:ngsi-ld:Thing:house", "Building")
    command.downgrade(migrate.alembic_config(fresh_db.engine), "0061")
    migrate.upgrade(fresh_db.engine)
    with fresh_db.session_scope() as session:
        assert _filed(session, "urn:ngsi-ld:Thing:house") == {EX + "Building"}
        assert _ids(session, "Building") == ["urn:ngsi-ld:Thing:house"]
        assert context.retrieve(session, "urn:ngsi-ld:Thing:house", OWN)["type"] == "Building"


def test_a_history_upserted_with_new_types_has_them_all(
    client: TestClient, session: Session
) -> None:
    make_user(session, "water", Role.unit_admin, unit=None)
    h = {"X-CSRF-Token": sign_in(client, "water"), "Content-Type": "application/json"}
    base, car = "/ngsi-ld/v1/temporal/entities", "urn:ngsi-ld:Vehicle:v1"

    def speed(value: Any, day: int) -> dict[str, Any]:
        return {"speed": [{"type": "Property", "value": value,
                           "observedAt": f"2026-01-0{day}T00:00:00Z"}]}  # fmt: skip

    first = client.post(base, headers=h, content=json.dumps({"id": car, "type": "Vehicle",
                                                              **speed(1, 1)}))  # fmt: skip
    assert first.status_code == 201, first.text
    again = client.post(base, headers=h, content=json.dumps(
        {"id": car, "type": ["Vehicle", "Truck"], **speed("urn:ngsi-ld:null", 2)}))  # fmt: skip
    assert again.status_code == 204, again.text  # a deleted instance is history too (4.5.7)
    whole = client.get(f"{base}/{car}").json()
    assert whole["type"] == ["Vehicle", "Truck"]
    assert [i["value"] for i in whole["speed"]] == [1, "urn:ngsi-ld:null"]
    bare = client.post(base, headers=h, content=json.dumps(
        {"id": car, "speed": "urn:ngsi-ld:null"}))  # fmt: skip
    assert bare.status_code == 400  # not an instance: no type, no time
    # a core entity of two types: its history is found by either
    made = client.post("/ngsi-ld/v1/entities", headers=h, content=json.dumps(
        {"id": B, "type": ["Building", "Tree"],
         "height": {"type": "Property", "value": 3,
                    "observedAt": "2026-01-01T00:00:00Z"}}))  # fmt: skip
    assert made.status_code == 201, made.text
    session.commit()
    for kind in ("Building", "Tree"):
        found = client.get(base, params={"type": kind}).json()
        assert [e["id"] for e in found] == [B]
        assert found[0]["type"] == ["Building", "Tree"]
