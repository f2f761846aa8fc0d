"""What notifications carry: former values (showChanges), deleted attributes in their kind,
the members and datasets asked for, and how they went, read right after they arrive."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citybase.core.db.engine import Database
from citybase.core.settings import Settings
from citybase.core.shared.service import open_store
from citybase.perception.context.notify import Notifier
from tests.perception.context.conftest import Receiver

JSON = {"Content-Type": "application/json"}


@pytest.fixture(autouse=True)
def _receivers_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The receiver listens on this machine, which an operator must allow."""
    monkeypatch.setenv("CITYBASE_WEB__OUTBOUND_ALLOW", "127.0.0.1")


BUILDING = "urn:ngsi-ld:Building:1"
ENTITIES = "/ngsi-ld/v1/entities"


def _subscribe(live: TestClient, receiver: Receiver, path: str, **more: Any) -> str:
    notification = {"endpoint": {"uri": f"{receiver.url}/{path}"}, **more.pop("notification", {})}
    sub = {"entities": [{"type": "Building"}], "notification": notification, **more}
    made = live.post("/ngsi-ld/v1/subscriptions", content=json.dumps(sub), headers=JSON)
    assert made.status_code == 201, made.text
    return str(made.headers["Location"].rsplit("/", 1)[1])


def _building() -> str:
    return json.dumps({
        "id": BUILDING, "type": "Building",
        "name": {"type": "Property", "value": "Eiffel Tower"},
        "locatedAt": {"type": "Relationship", "object": "urn:ngsi-ld:City:Paris"},
        "street": {"type": "LanguageProperty", "languageMap": {"fr": "Grand Place"}},
        "kind": [{"type": "Property", "value": "a", "datasetId": "urn:ds:a"},
                 {"type": "Property", "value": "b", "datasetId": "urn:ds:b"}]})  # fmt: skip


def test_changes_are_shown_with_the_former_values(live: TestClient, receiver: Receiver) -> None:
    assert live.post(ENTITIES, content=_building(), headers=JSON).status_code == 201
    _subscribe(live, receiver, "changes", notificationTrigger=["attributeUpdated",
               "attributeDeleted", "entityDeleted"], notification={"showChanges": True})  # fmt: skip
    patched = live.patch(f"{ENTITIES}/{BUILDING}/attrs", headers=JSON, content=json.dumps(
        {"name": {"type": "Property", "value": "Tour Eiffel"}}))  # fmt: skip
    assert patched.status_code == 204, patched.text
    [(_, updated)] = receiver.wait(1)
    name = updated["data"][0]["name"]
    assert (name["value"], name["previousValue"]) == ("Tour Eiffel", "Eiffel Tower")
    assert "previousObject" not in updated["data"][0]["locatedAt"]  # unchanged

    assert live.delete(f"{ENTITIES}/{BUILDING}/attrs/locatedAt").status_code == 204
    assert live.delete(f"{ENTITIES}/{BUILDING}/attrs/street").status_code == 204
    got = receiver.wait(3)
    located = got[1][1]["data"][0]["locatedAt"]
    assert located == {"type": "Relationship", "object": "urn:ngsi-ld:null",
                       "previousObject": "urn:ngsi-ld:City:Paris"}  # fmt: skip
    street = got[2][1]["data"][0]["street"]
    assert street["languageMap"] == {"@none": "urn:ngsi-ld:null"}
    assert street["previousLanguageMap"] == {"fr": "Grand Place"}

    assert live.delete(f"{ENTITIES}/{BUILDING}").status_code == 204
    gone = receiver.wait(4)[3][1]["data"][0]
    assert gone["name"] == {"type": "Property", "value": "urn:ngsi-ld:null",
                            "previousValue": "Tour Eiffel"}  # fmt: skip
    assert "deletedAt" in gone


def test_deleted_instances_and_a_deleted_entitys_attributes_are_attribute_deletions(
    live: TestClient, receiver: Receiver
) -> None:
    """An instance deleted while others stay is an attributeDeleted, shown as NGSI-LD null
    beside those left; a deleted entity's watched attributes are deleted with it."""
    assert live.post(ENTITIES, content=_building(), headers=JSON).status_code == 201
    _subscribe(live, receiver, "deleted", watchedAttributes=["kind"],
               notificationTrigger=["attributeDeleted"])  # fmt: skip
    dropped = live.delete(f"{ENTITIES}/{BUILDING}/attrs/kind?datasetId=urn:ds:a")
    assert dropped.status_code == 204, dropped.text
    [(_, sent)] = receiver.wait(1)
    assert sent["data"][0]["kind"] == [
        {"type": "Property", "value": "b", "datasetId": "urn:ds:b"},
        {"type": "Property", "value": "urn:ngsi-ld:null", "datasetId": "urn:ds:a"}]  # fmt: skip
    assert live.delete(f"{ENTITIES}/{BUILDING}").status_code == 204
    gone = receiver.wait(2)[1][1]["data"][0]
    assert gone["kind"] == {"type": "Property", "value": "urn:ngsi-ld:null",
                            "datasetId": "urn:ds:b"}  # fmt: skip
    assert "name" not in gone  # not watched
    assert "deletedAt" in gone


def test_a_subscriptions_q_may_be_percent_encoded(live: TestClient, receiver: Receiver) -> None:
    """A q written as in a URL (``name=="Eiffel%20Tower"``) is read as a query string is."""
    _subscribe(live, receiver, "q", q='name=="Eiffel%20Tower"')
    _subscribe(live, receiver, "other", q='name=="Tour%20Eiffel"')
    assert live.post(ENTITIES, content=_building(), headers=JSON).status_code == 201
    got = receiver.wait(1)
    assert [sent["data"][0]["id"] for _, sent in got] == [BUILDING]
    time.sleep(1)  # the other subscription's q does not hold: nothing more comes
    assert receiver.paths == ["q"]


def test_members_datasets_and_status_of_a_notification(
    live: TestClient, receiver: Receiver
) -> None:
    sub_id = _subscribe(live, receiver, "picked", datasetId=["urn:ds:b"],
                        notification={"pick": ["id", "kind"]})  # fmt: skip
    assert live.post(ENTITIES, content=_building(), headers=JSON).status_code == 201
    [(_, sent)] = receiver.wait(1)
    assert sent["data"] == [{"id": BUILDING, "kind": {"type": "Property", "value": "b",
                                                      "datasetId": "urn:ds:b"}}]  # fmt: skip
    status = live.get(f"/ngsi-ld/v1/subscriptions/{sub_id}").json()["notification"]
    assert status["timesSent"] == 1  # read at once: the delivery under way is waited for
    assert status["status"] == "ok"
    assert "lastSuccess" in status

    refused = live.post("/ngsi-ld/v1/subscriptions", headers=JSON, content=json.dumps({
        "entities": [{"type": "Building"}], "datasetId": ["not a uri"],
        "notification": {"endpoint": {"uri": f"{receiver.url}/x"}}}))  # fmt: skip
    assert refused.status_code == 400
    simplified = live.post("/ngsi-ld/v1/subscriptions", headers=JSON, content=json.dumps({
        "entities": [{"type": "Building"}],
        "notification": {"format": "simplified", "endpoint": {"uri": f"{receiver.url}/x"}}}))  # fmt: skip
    assert simplified.status_code == 201


def test_of_two_processes_only_one_notifies_within_a_throttling_window(
    fresh_db: Database, fresh_settings: Settings
) -> None:
    """Each process notifies the changes it made; a throttled subscription's window is claimed
    in the shared store, so a second process finds it taken (``Notifier._throttle``)."""
    store = open_store(fresh_settings, fresh_db)
    first, second = (Notifier(fresh_db, shared=store) for _ in range(2))
    sub = SimpleNamespace(id="urn:ngsi-ld:Subscription:t", throttling=60.0)
    other = SimpleNamespace(id="urn:ngsi-ld:Subscription:u", throttling=60.0)
    assert first._throttle(sub)  # type: ignore[arg-type]
    assert not second._throttle(sub)  # type: ignore[arg-type]
    assert not first._throttle(sub)  # type: ignore[arg-type]
    assert second._throttle(other)  # type: ignore[arg-type]
    alone = Notifier(fresh_db)  # without a store each process keeps its own window
    assert alone._throttle(sub)  # type: ignore[arg-type]
    for notifier in (first, second, alone):
        notifier.pool.shutdown()
    store.close()


def test_a_subscription_selects_entities_of_any_of_several_types(
    live: TestClient, receiver: Receiver
) -> None:
    """§4.17 in an entity selector: ``(Building|Tower)`` selects entities of either type; one
    asking for all of several (``;``) is refused."""
    sub = {"entities": [{"type": "(Tower|Building)"}], "notificationTrigger": ["entityCreated"],
           "notification": {"endpoint": {"uri": f"{receiver.url}/either"}}}  # fmt: skip
    made = live.post("/ngsi-ld/v1/subscriptions", content=json.dumps(sub), headers=JSON)
    assert made.status_code == 201, made.text
    shown = live.get(made.headers["Location"]).json()
    assert shown["entities"] == [{"type": "(Tower|Building)"}]
    assert live.post(ENTITIES, content=_building(), headers=JSON).status_code == 201
    [(_, sent)] = receiver.wait(1)
    assert sent["data"][0]["id"] == BUILDING
    both = {**sub, "entities": [{"type": "Tower;Building"}]}
    refused = live.post("/ngsi-ld/v1/subscriptions", content=json.dumps(both), headers=JSON)
    assert refused.status_code == 400, refused.text
    assert len(live.get("/ngsi-ld/v1/subscriptions").json()) == 1


def test_a_deleted_entity_is_shown_with_every_former_value(
    live: TestClient, receiver: Receiver
) -> None:
    """entityDeleted with showChanges: each attribute, a geometry among them, as NGSI-LD null
    with its former value."""
    place = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [119.3, 26.08]}}
    _subscribe(live, receiver, "gone", notificationTrigger=["entityDeleted"],
               notification={"showChanges": True})  # fmt: skip
    body = {**json.loads(_building()), "location": place}
    assert live.post(ENTITIES, content=json.dumps(body), headers=JSON).status_code == 201
    assert live.delete(f"{ENTITIES}/{BUILDING}").status_code == 204
    [(_, sent)] = receiver.wait(1)
    gone = sent["data"][0]
    assert gone["location"] == {"type": "GeoProperty", "value": "urn:ngsi-ld:null",
                                "previousValue": place["value"]}  # fmt: skip
    assert gone["name"]["previousValue"] == "Eiffel Tower"
