"""NGSI-LD entities of several types and a reader's scope by type: a type open to a reader
opens an entity that has it, whatever its other types; it opens nothing to change."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.settings import Settings
from tests.security.test_ngsi_ld import BASE, JSON, _with
from tests.security.test_ngsi_ld import keys as keys  # the fixture

ONLY_B = "urn:ngsi-ld:Person:1"
BOTH = "urn:ngsi-ld:Thing:both"


def test_a_reader_of_type_a_sees_an_entity_of_a_and_b_but_nothing_of_b_alone(
    client: TestClient, session: Session, settings: Settings, keys: dict[str, dict[str, str]]
) -> None:
    for entity_id, kind in ((ONLY_B, "Person"), (BOTH, ["WaterLevelObserved", "Person"])):
        body = {"id": entity_id, "type": kind, "name": {"type": "Property", "value": "林小明"}}
        made = client.post(f"{BASE}/entities", content=json.dumps(body), headers=keys["water"])
        assert made.status_code == 201
    session.commit()
    _with(client, settings, public_entity_types="WaterLevelObserved", entity_read="unit")
    for reader in ({}, keys["trafficview"], keys["traffic"]):  # anyone, another unit's
        assert client.get(f"{BASE}/entities/{ONLY_B}", headers=reader).status_code == 404
        seen = client.get(f"{BASE}/entities/{BOTH}", headers=reader)
        assert seen.status_code == 200
        assert seen.json()["type"] == ["WaterLevelObserved", "Person"]
        found = client.get(f"{BASE}/entities", params={"type": "Person"}, headers=reader)
        assert [e["id"] for e in found.json()] == [BOTH]
        types = client.get(f"{BASE}/types", headers=reader).json()["typeList"]
        assert types == ["Person", "WaterLevelObserved"]  # of the entity it sees
    # seeing is not changing: the entity of B alone is not found, the other refused
    rename = json.dumps({"name": {"type": "Property", "value": "改"}, "type": "Vehicle"})
    assert client.patch(f"{BASE}/entities/{ONLY_B}/attrs", content=rename,
                        headers=keys["traffic"]).status_code == 404  # fmt: skip
    assert client.patch(f"{BASE}/entities/{BOTH}/attrs", content=rename,
                        headers=keys["traffic"]).status_code == 403  # fmt: skip
    assert client.delete(f"{BASE}/entities/{BOTH}", headers=keys["traffic"]).status_code == 403
    assert client.patch(f"{BASE}/entities/{BOTH}/attrs", content=rename,
                        headers=JSON).status_code == 401  # fmt: skip
    for entity_id, kind in ((ONLY_B, "Person"), (BOTH, ["WaterLevelObserved", "Person"])):
        held = client.get(f"{BASE}/entities/{entity_id}", headers=keys["water"]).json()
        assert held["name"]["value"] == "林小明"
        assert held["type"] == kind
