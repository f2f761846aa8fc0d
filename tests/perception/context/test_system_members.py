"""System members of NGSI-LD entities and attributes (ETSI GS CIM 009 4.8, 6.3.11): each
attribute's own createdAt / modifiedAt, an entity's expiresAt, shown only with
``options=sysAttrs``; and the version preference (4.3.6.8, 6.3.6)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.perception.context import attributes, versions
from tests.core.identity.factories import make_user, sign_in

ENTITIES = "/ngsi-ld/v1/entities"
BRIDGE = {
    "id": "urn:ngsi-ld:Bridge:jiefang", "type": "Bridge",
    "load": {"type": "Property", "value": 12, "createdAt": "2001-01-01T00:00:00Z",
             "sensor": {"type": "Property", "value": "s-1"}},
    "river": {"type": "Relationship", "object": "urn:ngsi-ld:River:minjiang"},
}  # fmt: skip
RIVER = {"id": "urn:ngsi-ld:River:minjiang", "type": "River",
         "name": {"type": "Property", "value": "闽江"}}  # fmt: skip


def _writer(client: TestClient, session: Session) -> dict[str, str]:
    make_user(session, "water", Role.unit_admin, unit=None)
    client.cookies.clear()
    return {"X-CSRF-Token": sign_in(client, "water"), "Content-Type": "application/json"}


def _get(client: TestClient, path: str, **params: str) -> Any:
    answer = client.get(f"{ENTITIES}/{path}", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_each_attribute_has_its_own_created_and_modified_at(
    client: TestClient, session: Session
) -> None:
    """4.8 and 6.3.11: with options=sysAttrs every attribute (and sub-attribute) shows when it
    was created and last modified — the broker's times, not the client's; replacing an
    attribute keeps its createdAt (5.6.19), and without sysAttrs none of them is shown."""
    h = _writer(client, session)
    assert client.post(ENTITIES, content=json.dumps(BRIDGE), headers=h).status_code == 201
    plain = _get(client, BRIDGE["id"])
    assert "createdAt" not in plain["load"]
    assert "createdAt" not in plain["load"]["sensor"]
    full = _get(client, BRIDGE["id"], options="sysAttrs")
    load = full["load"]
    assert load["createdAt"] != "2001-01-01T00:00:00Z"  # what the client sent is not kept
    assert load["createdAt"] == load["modifiedAt"] >= full["createdAt"]
    assert set(load["sensor"]) >= {"createdAt", "modifiedAt"}
    assert set(full["river"]) >= {"createdAt", "modifiedAt"}

    url = f"{ENTITIES}/{BRIDGE['id']}/attrs/load"
    new = {"type": "Property", "value": 13}
    assert client.put(url, content=json.dumps(new), headers=h).status_code == 204
    after = _get(client, BRIDGE["id"], options="sysAttrs")
    assert after["load"]["createdAt"] == load["createdAt"]
    assert after["load"]["modifiedAt"] > load["modifiedAt"]
    assert after["river"] == full["river"]  # an attribute not written keeps its times
    assert client.patch(url, content=json.dumps({"value": 14}), headers=h).status_code == 204
    patched = _get(client, BRIDGE["id"], options="sysAttrs")["load"]
    assert (patched["value"], patched["createdAt"]) == (14, load["createdAt"])
    assert patched["modifiedAt"] > after["load"]["modifiedAt"]
    # the key-values and concise forms carry no stamps unless asked
    assert _get(client, BRIDGE["id"], options="keyValues")["load"] == 14
    assert _get(client, BRIDGE["id"], format="concise")["load"] == 14


def test_a_batch_upsert_keeps_each_attributes_created_at(
    client: TestClient, session: Session
) -> None:
    """5.6.8 with 4.8: an upsert that rewrites an attribute keeps when it was first created."""
    h = _writer(client, session)
    batch = f"{ENTITIES[: -len('entities')]}entityOperations/upsert"
    assert client.post(batch, content=json.dumps([RIVER]), headers=h).status_code == 201
    first = _get(client, RIVER["id"], options="sysAttrs")["name"]
    again = {**RIVER, "name": {"type": "Property", "value": "Min River"}}
    assert client.post(batch, content=json.dumps([again]), headers=h).status_code == 204
    name = _get(client, RIVER["id"], options="sysAttrs")["name"]
    assert name["value"] == "Min River"
    assert name["modifiedAt"] > first["modifiedAt"]
    # SQLite reads the old attributes, so the first createdAt is kept
    if session.get_bind().dialect.name == "sqlite":
        assert name["createdAt"] == first["createdAt"]


def test_linked_entities_carry_their_system_members(client: TestClient, session: Session) -> None:
    """4.5.23 with 6.3.11: a linked entity joined inline or flat with options=sysAttrs shows
    its own createdAt and modifiedAt."""
    h = _writer(client, session)
    for entity in (RIVER, BRIDGE):
        assert client.post(ENTITIES, content=json.dumps(entity), headers=h).status_code == 201
    inline = _get(client, BRIDGE["id"], join="inline", options="sysAttrs")
    assert {"createdAt", "modifiedAt"} <= set(inline["river"]["entity"])
    flat = _get(client, BRIDGE["id"], join="flat", options="sysAttrs")
    assert all("createdAt" in e for e in flat)
    found = client.get(ENTITIES, params={"type": "Bridge", "join": "inline"}).json()
    assert "createdAt" not in found[0]["river"]["entity"]


def test_expires_at_is_a_system_member(client: TestClient, session: Session) -> None:
    """6.3.11: a transient entity's expiresAt (entity and attribute level, and on the temporal
    instances) is shown only with options=sysAttrs, and is not an attribute of the entity."""
    h = _writer(client, session)
    transient = {"id": "urn:ngsi-ld:Vehicle:bus-7", "type": "Vehicle",
                 "expiresAt": "2100-01-01T00:00:00Z",
                 "speed": {"type": "Property", "value": 7,
                           "expiresAt": "2100-01-01T00:00:00Z"}}  # fmt: skip
    assert client.post(ENTITIES, content=json.dumps(transient), headers=h).status_code == 201
    plain = client.get(f"{ENTITIES}/{transient['id']}")
    assert "expiresAt" not in plain.text
    assert plain.json()["speed"]["value"] == 7
    full = _get(client, transient["id"], options="sysAttrs")
    assert full["expiresAt"] == "2100-01-01T00:00:00Z"
    assert full["speed"]["expiresAt"] == "2100-01-01T00:00:00Z"
    history = f"/ngsi-ld/v1/temporal/entities/{transient['id']}"
    window = {"timerel": "after", "timeAt": "2020-01-01T00:00:00Z"}
    plain = client.get(history, params=window)
    assert plain.status_code == 200, plain.text
    assert "expiresAt" not in plain.text
    assert plain.json()["speed"][0]["value"] == 7
    full = client.get(history, params={**window, "options": "sysAttrs"}).json()
    assert full["speed"][0]["expiresAt"] == "2100-01-01T00:00:00Z"


def test_the_version_preference(client: TestClient, session: Session) -> None:
    """4.3.6.8 and 6.3.6: Prefer: ngsi-ld=<version>, in any spelling RFC 7240 allows, is
    answered with Preference-Applied; Entity data holding a kind newer than that version is
    reformatted as Property and answered 203; a subscription is returned unaltered (200);
    a preference that names no version applies none."""
    h = _writer(client, session)
    entity = {"id": "urn:ngsi-ld:Building:gulou", "type": "Building",
              "category": {"type": "VocabProperty", "vocab": "office"},
              "height": {"type": "Property", "value": 80}}  # fmt: skip
    assert client.post(ENTITIES, content=json.dumps(entity), headers=h).status_code == 201
    url = f"{ENTITIES}/{entity['id']}"
    older = client.get(url, headers={"Prefer": "ngsi-ld=1.5"})
    assert (older.status_code, older.headers["Preference-Applied"]) == (203, "ngsi-ld=1.5")
    assert older.json()["category"] == {"type": "Property", "value": "office"}
    assert older.json()["height"] == {"type": "Property", "value": 80}
    native = client.get(url, headers={"Prefer": 'respond-async, NGSI-LD="1.9";q=0.1'})
    assert (native.status_code, native.headers["Preference-Applied"]) == (200, "ngsi-ld=1.9")
    assert native.json()["category"]["type"] == "VocabProperty"
    listed = client.get(ENTITIES, params={"type": "Building"}, headers={"Prefer": "ngsi-ld=1.0"})
    assert listed.status_code == 203
    assert listed.json()[0]["category"]["type"] == "Property"
    for prefer in ("respond-async", "ngsi-ld=latest", "ngsi-ld", "ngsi-ld=1.9.9"):
        plain = client.get(url, headers={"Prefer": prefer})
        assert plain.status_code == 200
        assert "Preference-Applied" not in plain.headers

    sub = {"id": "urn:ngsi-ld:Subscription:gulou", "type": "Subscription",
           "entities": [{"type": "Building"}],
           "notification": {"attributes": ["category"],
                            "endpoint": {"uri": "http://x.org/"}}}  # fmt: skip
    made = client.post("/ngsi-ld/v1/subscriptions", content=json.dumps(sub), headers=h)
    assert made.status_code == 201, made.text
    got = client.get(f"/ngsi-ld/v1/subscriptions/{sub['id']}", headers={"Prefer": "ngsi-ld=1.0"})
    assert (got.status_code, got.headers["Preference-Applied"]) == (200, "ngsi-ld=1.0")
    assert got.json()["entities"] == [{"type": "Building"}]


def test_version_preference_parsing_and_amending() -> None:
    """RFC 7240's grammar as 6.3.6 uses it; the fallback of 4.3.6.8 on sub-attributes too."""
    assert versions.preferred("NGSI-LD=1.0") == "1.0"
    assert versions.preferred('wait=5, ngsi-ld="1.8"; foo=bar') == "1.8"
    assert versions.preferred("ngsi-ld=") is None
    assert versions.preferred(None) is None
    body = {"id": "urn:x:1", "type": "T",
            "a": {"type": "Property", "value": 1,
                  "b": {"type": "JsonProperty", "json": {"k": 1}}}}  # fmt: skip
    amended, changed = versions.amend(body, "1.7")
    assert changed
    assert amended["a"]["b"] == {"type": "Property", "value": {"k": 1}}
    assert versions.amend(body, "1.8") == (body, False)


def test_stamps_follow_the_instance_they_replace() -> None:
    """Each datasetId's instance keeps its own createdAt; an unchanged sub-attribute its own."""
    old = [{"type": "Property", "value": 1, "createdAt": "A", "modifiedAt": "A"},
           {"type": "Property", "value": 2, "datasetId": "urn:d:2", "createdAt": "B",
            "modifiedAt": "B", "q": {"type": "Property", "value": 0, "createdAt": "B",
                                     "modifiedAt": "B"}}]  # fmt: skip
    new = {"type": "Property", "value": 3, "datasetId": "urn:d:2",
           "q": {"type": "Property", "value": 0}}  # fmt: skip
    stamped = attributes.stamped(attributes.put(old, new), old, "C")
    first, second = stamped
    assert first is old[0]  # the default instance was not written
    assert (second["createdAt"], second["modifiedAt"]) == ("B", "C")
    assert (second["q"]["createdAt"], second["q"]["modifiedAt"]) == ("B", "B")
    assert attributes.unstamped(second) == new


def test_null_without_dataset_deletes_only_the_default_instance(
    client: TestClient, session: Session
) -> None:
    """5.6.2 and 5.6.17 with 4.5.5: an attribute given as NGSI-LD null without a datasetId, in
    an update or a merge, deletes the default instance only; the other instances stay. An
    attribute of one instance goes whole, and a JSON null in an update is refused with nothing
    deleted."""
    h = _writer(client, session)
    tower = {"id": "urn:ngsi-ld:Building:gutian", "type": "Building",
             "name": [{"type": "Property", "value": "Tower", "datasetId": "urn:ngsi-ld:Dataset:01"},
                      {"type": "Property", "value": "The old tower"}],
             "height": [{"type": "Property", "value": 1, "datasetId": "urn:ngsi-ld:Dataset:01"},
                        {"type": "Property", "value": 2}],
             "colour": {"type": "Property", "value": "red"}}  # fmt: skip
    assert client.post(ENTITIES, content=json.dumps(tower), headers=h).status_code == 201
    url = f"{ENTITIES}/{tower['id']}"
    null = {"type": "Property", "value": "urn:ngsi-ld:null"}
    refused = client.patch(f"{url}/attrs", content=json.dumps({"name": None}), headers=h)
    assert refused.status_code == 400
    assert len(_get(client, tower["id"])["name"]) == 2
    done = client.patch(f"{url}/attrs", content=json.dumps({"name": null}), headers=h)
    assert done.status_code == 204, done.text
    left = _get(client, tower["id"])
    assert left["name"] == {"type": "Property", "value": "Tower",
                            "datasetId": "urn:ngsi-ld:Dataset:01"}  # fmt: skip
    merged = client.patch(url, content=json.dumps({"height": null, "colour": null}), headers=h)
    assert merged.status_code == 204, merged.text
    left = _get(client, tower["id"])
    assert left["height"]["datasetId"] == "urn:ngsi-ld:Dataset:01"
    assert "colour" not in left


def test_replacing_an_attribute_replaces_one_instance(client: TestClient, session: Session) -> None:
    """5.6.19: PUT …/attrs/{name} replaces the instance of the datasetId given (the default
    one without); the attribute's other instances stay as they were."""
    h = _writer(client, session)
    car = {"id": "urn:ngsi-ld:Vehicle:min-a", "type": "Vehicle",
           "speed": [{"type": "Property", "value": 55},
                     {"type": "Property", "value": 60, "datasetId": "urn:ngsi-ld:Gps:1"}]}  # fmt: skip
    assert client.post(ENTITIES, content=json.dumps(car), headers=h).status_code == 201
    url = f"{ENTITIES}/{car['id']}/attrs/speed"
    given = {"type": "Property", "value": 61, "datasetId": "urn:ngsi-ld:Gps:1"}
    assert client.put(url, content=json.dumps(given), headers=h).status_code == 204
    assert client.put(url, content=json.dumps({"type": "Property", "value": 50}),
                      headers=h).status_code == 204  # fmt: skip
    speeds = sorted(_get(client, car["id"])["speed"], key=lambda i: i["value"])
    assert speeds == [{"type": "Property", "value": 50}, given]


def test_the_members_an_attribute_may_have_are_known_alike() -> None:
    """The stamping's list of an attribute's own members is the JSON-LD side's, so that no
    member is ever taken for a sub-attribute (or the reverse)."""
    from citybase.perception.context import jsonld

    assert attributes._MEMBERS == jsonld.ATTRIBUTE_KEYS
