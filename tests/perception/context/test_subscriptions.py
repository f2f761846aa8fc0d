from __future__ import annotations

import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.db.engine import Database
from citybase.core.identity.schemas import Role
from citybase.core.settings import Settings
from citybase.perception.context import notify
from citybase.perception.context.notify import Notifier
from tests.conftest import reachable
from tests.core.identity.factories import make_user, sign_in
from tests.perception.context.conftest import Receiver

JSON = {"Content-Type": "application/json"}


@pytest.fixture(autouse=True)
def _receivers_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The receivers here listen on this machine, which an operator must allow."""
    monkeypatch.setenv("CITYBASE_WEB__OUTBOUND_ALLOW", "127.0.0.1")


def _gauge(n: int, level: float) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:WaterLevel:{n}", "type": "WaterLevelObserved",
            "level": {"type": "Property", "value": level, "unitCode": "MTR"},
            "name": {"type": "Property", "value": f"gauge {n}"},
            "location": {"type": "GeoProperty",
                         "value": {"type": "Point", "coordinates": [119.3, 26.08]}}}  # fmt: skip


def test_subscriptions_are_checked_kept_and_shown(client: TestClient, session: Session) -> None:
    make_user(session, "water", Role.unit_admin, unit=None)
    h = {"X-CSRF-Token": sign_in(client, "water"), **JSON}
    good = {"type": "Subscription", "entities": [{"type": "WaterLevelObserved"}],
            "watchedAttributes": ["level"], "q": "level>3",
            "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"},
                             "attributes": ["level"], "format": "keyValues"},
            "expiresAt": "2030-01-01T00:00:00Z", "throttling": 5}  # fmt: skip
    made = client.post("/ngsi-ld/v1/subscriptions", content=json.dumps(good), headers=h)
    assert made.status_code == 201, made.text
    location = made.headers["Location"]
    assert location.startswith("/ngsi-ld/v1/subscriptions/urn:ngsi-ld:Subscription:")
    shown = client.get(location).json()
    # isActive is shown as it was given (here not): the status says whether it runs
    assert (shown["status"], "isActive" in shown, shown["q"]) == ("active", False, "level>3")
    assert shown["notification"]["timesSent"] == 0
    assert client.get("/ngsi-ld/v1/subscriptions", params={"count": "true"}
                      ).headers["NGSILD-Results-Count"] == "1"  # fmt: skip

    paused = client.patch(location, content=json.dumps({"isActive": False}), headers=h)
    assert paused.status_code == 204, paused.text
    assert [client.get(location).json()[k] for k in ("status", "isActive")] == ["paused", False]
    moved = client.patch(location, content=json.dumps(
        {"notification": {"format": "concise"}}), headers=h)  # fmt: skip
    assert moved.status_code == 204
    kept = client.get(location).json()["notification"]
    assert (kept["format"], kept["endpoint"]["uri"]) == ("concise", "http://127.0.0.1:9/notify")
    # an expiry in the past is refused (GS CIM 009 5.8.2), and nothing changes
    past = client.patch(location, content=json.dumps({"expiresAt": "2020-01-01T00:00:00Z"}),
                        headers=h)  # fmt: skip
    assert past.status_code == 400
    assert client.get(location).json()["status"] == "paused"
    # one whose expiry has come is shown expired
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    assert client.patch(location, content=json.dumps({"expiresAt": soon, "isActive": True}),
                        headers=h).status_code == 204  # fmt: skip
    time.sleep(1.2)
    assert client.get(location).json()["status"] == "expired"

    wrong = [
        ({**good, "entities": None, "watchedAttributes": None}, "entities"),
        ({**good, "timeInterval": 10}, "timeInterval"),
        ({**good, "q": "level>>3"}, "q"),
        ({**good, "throttling": -1}, "throttling"),
        ({**good, "notification": {"endpoint": {"uri": "ftp://x"}}}, "notification"),
        ({**good, "notification": {"endpoint": {"uri": "mqtt://127.0.0.1:1883"}}}, "notification"),
        ({**good, "notification": {"endpoint": {"uri": "http://x", "accept": "text/plain"}}},
         "notification"),
        ({**good, "expiresAt": "soon"}, "expiresAt"),
        ({**good, "geoQ": {"georel": "near;maxDistance==10", "geometry": "Point",
                           "coordinates": [1]}}, "coordinates"),
        ({**good, "colour": "red"}, "colour"),
    ]  # fmt: skip
    for body, where in wrong:
        refused = client.post("/ngsi-ld/v1/subscriptions", content=json.dumps(body), headers=h)
        assert refused.status_code == 400, (body, refused.text)
        assert refused.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
        assert where in refused.text, (where, refused.text)
    assert client.delete(location, headers=h).status_code == 204
    assert client.get(location).status_code == 404
    assert client.delete(location, headers=h).status_code == 404


def test_changes_are_notified_over_http(live: TestClient, receiver: Receiver) -> None:
    sub = {"entities": [{"type": "WaterLevelObserved", "idPattern": "WaterLevel:[12]$"}],
           "watchedAttributes": ["level"], "q": "level>3",
           "notification": {"endpoint": {"uri": f"{receiver.url}/hook",
                                         "receiverInfo": [{"key": "X-Token", "value": "s3"}]},
                            "attributes": ["level"], "format": "keyValues"}}  # fmt: skip
    made = live.post("/ngsi-ld/v1/subscriptions", content=json.dumps(sub), headers=JSON)
    assert made.status_code == 201, made.text
    for n in (1, 2, 3):
        live.post("/ngsi-ld/v1/entities", content=json.dumps(_gauge(n, 2.0)), headers=JSON)
    time.sleep(0.3)
    assert receiver.got == []  # level 2 does not meet q
    live.patch(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevel:3/attrs",  # not selected by id
        content=json.dumps({"level": {"type": "Property", "value": 5}}),
        headers=JSON,
    )
    live.patch(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevel:1/attrs",  # not watched
        content=json.dumps({"name": {"type": "Property", "value": "x"}}),
        headers=JSON,
    )
    started = time.monotonic()
    live.patch(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevel:1/attrs",
        content=json.dumps({"level": {"type": "Property", "value": 4.5}}),
        headers=JSON,
    )
    [(headers, body)] = receiver.wait(1)
    assert time.monotonic() - started < 5
    assert body["type"] == "Notification"
    assert body["subscriptionId"] == made.headers["Location"].rsplit("/", 1)[1]
    assert body["id"].startswith("urn:ngsi-ld:Notification:")
    assert body["data"] == [{"id": "urn:ngsi-ld:WaterLevel:1", "type": "WaterLevelObserved",
                             "level": 4.5}]  # fmt: skip
    assert headers["X-Token"] == "s3"
    assert headers["Content-Type"] == "application/json"
    assert "ngsi-ld-core-context" in headers["Link"]

    # a batch upsert notifies the entities that meet it, in one notification
    batch = [_gauge(1, 6.0), _gauge(2, 7.0), _gauge(3, 8.0)]
    live.post("/ngsi-ld/v1/entityOperations/upsert", content=json.dumps(batch), headers=JSON)
    got = receiver.wait(2)
    assert sorted(e["level"] for e in got[1][1]["data"]) == [6.0, 7.0]

    location = made.headers["Location"]
    deadline = time.monotonic() + 5
    while live.get(location).json()["notification"].get("timesSent") != 2 and \
            time.monotonic() < deadline:  # fmt: skip
        time.sleep(0.05)
    shown = live.get(location).json()["notification"]
    assert (shown["timesSent"], shown["status"]) == (2, "ok")
    assert "lastSuccess" in shown

    # paused: nothing more
    live.patch(location, content=json.dumps({"isActive": False}), headers=JSON)
    live.patch(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevel:1/attrs",
        content=json.dumps({"level": {"type": "Property", "value": 9}}),
        headers=JSON,
    )
    time.sleep(0.5)
    assert len(receiver.got) == 2


def test_a_deletion_is_notified_to_those_who_ask_for_it(
    live: TestClient, receiver: Receiver
) -> None:
    def subscribe(path: str, **more: Any) -> None:
        sub = {"entities": [{"type": "WaterLevelObserved"}],
               "notification": {"endpoint": {"uri": f"{receiver.url}/{path}"}}, **more}  # fmt: skip
        made = live.post("/ngsi-ld/v1/subscriptions", content=json.dumps(sub), headers=JSON)
        assert made.status_code == 201, made.text

    bad = {"entities": [{"type": "WaterLevelObserved"}], "notificationTrigger": ["entityMoved"],
           "notification": {"endpoint": {"uri": f"{receiver.url}/x"}}}  # fmt: skip
    refused = live.post("/ngsi-ld/v1/subscriptions", content=json.dumps(bad), headers=JSON)
    assert refused.status_code == 400
    assert "notificationTrigger" in refused.text
    subscribe("deleted", notificationTrigger=["entityDeleted"])
    subscribe("written")  # the default: created and updated, not deleted
    live.post("/ngsi-ld/v1/entities", content=json.dumps(_gauge(1, 2.0)), headers=JSON)
    [(_, written)] = receiver.wait(1)
    assert written["data"][0]["level"]["value"] == 2.0
    assert live.delete("/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevel:1").status_code == 204
    got = receiver.wait(2)
    time.sleep(0.3)  # the default subscription is not told of the deletion
    assert len(receiver.got) == 2
    [gone] = got[1][1]["data"]
    assert set(gone) == {"id", "type", "deletedAt"}
    assert (gone["id"], gone["type"]) == ("urn:ngsi-ld:WaterLevel:1", "WaterLevelObserved")
    assert gone["deletedAt"].endswith("Z")


def test_throttling_intervals_and_failures(live: TestClient, receiver: Receiver) -> None:
    live.post("/ngsi-ld/v1/entities", content=json.dumps(_gauge(1, 1.0)), headers=JSON)
    throttled = {"entities": [{"type": "WaterLevelObserved"}], "throttling": 60,
                 "notification": {"endpoint": {"uri": f"{receiver.url}/t",
                                               "accept": "application/ld+json"}}}  # fmt: skip
    live.post("/ngsi-ld/v1/subscriptions", content=json.dumps(throttled), headers=JSON)
    broken = {"entities": [{"type": "WaterLevelObserved"}], "watchedAttributes": ["name"],
              "notification": {"endpoint": {"uri": f"{receiver.url}/broken"}}}  # fmt: skip
    failing = live.post("/ngsi-ld/v1/subscriptions", content=json.dumps(broken), headers=JSON)
    for value in (2.0, 3.0, 4.0):
        live.patch("/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevel:1/attrs",
                   content=json.dumps({"level": {"type": "Property", "value": value}}),
                   headers=JSON)  # fmt: skip
    live.patch(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevel:1/attrs",
        content=json.dumps({"name": {"type": "Property", "value": "n"}}),
        headers=JSON,
    )
    time.sleep(0.5)
    throttled_got = [b for h, b in receiver.got if b["subscriptionId"] != failing.headers[
        "Location"].rsplit("/", 1)[1]]  # fmt: skip
    assert len(throttled_got) == 1  # the others fell within the 60 s
    assert throttled_got[0]["@context"].endswith("ngsi-ld-core-context-v1.6.jsonld")
    assert throttled_got[0]["data"][0]["level"]["value"] == 2.0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        shown = live.get(failing.headers["Location"]).json()["notification"]
        if shown.get("timesFailed"):
            break
        time.sleep(0.05)
    assert (shown["timesFailed"], shown["status"]) == (1, "failed")

    periodic = {"entities": [{"type": "WaterLevelObserved"}], "timeInterval": 1,
                "notification": {"endpoint": {"uri": f"{receiver.url}/every"},
                                 "format": "keyValues"}}  # fmt: skip
    live.post("/ngsi-ld/v1/subscriptions", content=json.dumps(periodic), headers=JSON)
    before = len(receiver.got)
    got = receiver.wait(before + 2, seconds=6)
    every = [b for h, b in got[before:] if b["data"] and b["data"][0].get("level") == 4.0]
    assert len(every) >= 2  # the whole entity, again each second, with no change


@pytest.mark.skipif(not reachable("mqtt://127.0.0.1:1883", 1883), reason="no MQTT broker")
def test_changes_are_notified_over_mqtt(live: TestClient) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    got: list[Any] = []
    arrived = threading.Event()
    topic = f"citybase-test/notify/{time.monotonic_ns()}"
    listener = mqtt.Client(CallbackAPIVersion.VERSION2)

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        got.append(json.loads(message.payload))
        arrived.set()

    listener.on_message = on_message
    listener.connect("127.0.0.1", 1883)
    listener.subscribe(topic, qos=1)
    listener.loop_start()
    time.sleep(0.3)
    try:
        sub = {"entities": [{"type": "WaterLevelObserved"}], "watchedAttributes": ["level"],
               "notification": {"endpoint": {"uri": f"mqtt://127.0.0.1:1883/{topic}",
                                             "notifierInfo": [{"key": "MQTT-QoS", "value": "1"}]},
                                "format": "concise"}}  # fmt: skip
        live.post("/ngsi-ld/v1/subscriptions", content=json.dumps(sub), headers=JSON)
        live.post("/ngsi-ld/v1/entities", content=json.dumps(_gauge(7, 3.3)), headers=JSON)
        assert arrived.wait(5)
    finally:
        listener.loop_stop()
        listener.disconnect()
    message = got[0]
    assert message["metadata"]["Content-Type"] == "application/json"
    assert message["body"]["type"] == "Notification"
    assert message["body"]["data"][0]["level"] == {"value": 3.3, "unitCode": "MTR"}


def test_port_is_free_of_receivers() -> None:
    # the http endpoints above are on loopback ports the test opened itself
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        assert probe.getsockname()[0] == "127.0.0.1"


def test_only_allowed_hosts_are_notified() -> None:
    from citybase.perception.context.subscriptions import allowed

    assert allowed("http://10.0.0.5:8080/x", "")  # none listed: any
    hosts = "hooks.fz.gov.cn, .water.fz.gov.cn"
    assert allowed("https://hooks.fz.gov.cn/n", hosts)
    assert allowed("mqtt://broker.water.fz.gov.cn:1883/t", hosts)
    assert not allowed("http://127.0.0.1:5432/", hosts)
    assert not allowed("http://evil-hooks.fz.gov.cn.example/", hosts)


def test_a_subscription_to_a_host_not_allowed_is_refused(
    client: TestClient, session: Session, settings: Settings
) -> None:
    client.app.state.settings = settings.model_copy(
        update={
            "perception": settings.perception.model_copy(
                update={"notification_hosts": "hooks.fz.gov.cn"}
            )
        }
    )  # type: ignore[attr-defined]
    make_user(session, "water", Role.unit_admin, unit=None)
    h = {"X-CSRF-Token": sign_in(client, "water"), **JSON}
    sub = {"entities": [{"type": "WaterLevelObserved"}],
           "notification": {"endpoint": {"uri": "http://127.0.0.1:9/inside"}}}  # fmt: skip
    refused = client.post("/ngsi-ld/v1/subscriptions", content=json.dumps(sub), headers=h)
    assert refused.status_code == 400
    assert "notification_hosts" in refused.json()["detail"]
    sub["notification"]["endpoint"]["uri"] = "https://hooks.fz.gov.cn/n"  # type: ignore[index]
    made = client.post("/ngsi-ld/v1/subscriptions", content=json.dumps(sub), headers=h)
    assert made.status_code == 201, made.text
    moved = client.patch(made.headers["Location"], headers=h, content=json.dumps(
        {"notification": {"endpoint": {"uri": "http://127.0.0.1:9/inside"}}}))  # fmt: skip
    assert moved.status_code == 400


def test_each_trigger_hears_only_what_it_names(live: TestClient, receiver: Receiver) -> None:
    def subscribe(path: str, triggers: list[str], **more: Any) -> None:
        sub = {"entities": [{"type": "WaterLevelObserved"}], "notificationTrigger": triggers,
               "notification": {"endpoint": {"uri": f"{receiver.url}/{path}"}}, **more}  # fmt: skip
        made = live.post("/ngsi-ld/v1/subscriptions", content=json.dumps(sub), headers=JSON)
        assert made.status_code == 201, made.text

    subscribe("born", ["entityCreated"])
    subscribe("alert-added", ["attributeCreated"], watchedAttributes=["alert"])
    subscribe("level-changed", ["attributeUpdated"], watchedAttributes=["level"])
    subscribe("removed", ["attributeDeleted"])
    subscribe("touched", ["entityUpdated"])
    url = "/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevel:1/attrs"
    steps = [
        lambda: live.post("/ngsi-ld/v1/entities", content=json.dumps(_gauge(1, 2.0)), headers=JSON),
        lambda: live.post(url, content=json.dumps({"alert": {"type": "Property", "value": "high"}}),
                          headers=JSON),
        lambda: live.patch(url, content=json.dumps({"level": {"type": "Property", "value": 3.1}}),
                           headers=JSON),
        lambda: live.delete(f"{url}/alert"),
    ]  # fmt: skip
    heard: list[list[str]] = []
    for step in steps:
        seen = len(receiver.paths)
        assert step().status_code in (201, 204)
        time.sleep(0.4)  # each change notified before the next is made
        heard.append(sorted(receiver.paths[seen:]))
    assert heard == [["born"], ["alert-added", "touched"], ["level-changed", "touched"],
                     ["removed", "touched"]]  # fmt: skip


def test_what_a_write_did_is_told_by_trigger() -> None:
    assert notify.events({"a", "b"}, None) == {"entityCreated": {"a", "b"},
                                               "attributeCreated": {"a", "b"}}  # fmt: skip
    assert notify.events({"a", "c"}, {"a", "b"}, removed={"b"}) == {
        "attributeCreated": {"c"}, "attributeUpdated": {"a"}, "attributeDeleted": {"b"},
        "entityUpdated": {"a", "b", "c"}}  # fmt: skip
    assert notify.events(set(), {"a"}) == {}  # nothing written: nothing happened


def test_a_periodic_notification_is_sent_by_one_process_of_several(
    live: TestClient, receiver: Receiver, fresh_db: Database
) -> None:
    """Two more notifiers on the same database (two more web workers): each round of a
    periodic subscription is sent once, whichever process takes it."""
    live.post("/ngsi-ld/v1/entities", content=json.dumps(_gauge(1, 1.0)), headers=JSON)
    periodic = {"entities": [{"type": "WaterLevelObserved"}], "timeInterval": 60,
                "notification": {"endpoint": {"uri": f"{receiver.url}/every"}}}  # fmt: skip
    assert live.post("/ngsi-ld/v1/subscriptions", content=json.dumps(periodic),
                     headers=JSON).status_code == 201  # fmt: skip
    receiver.wait(1)  # the app's own notifier takes the first round
    others = [Notifier(fresh_db), Notifier(fresh_db)]
    try:
        for other in others:
            other.on_clock()
        time.sleep(0.5)
        assert receiver.paths.count("every") == 1
    finally:
        for other in others:
            other.pool.shutdown(wait=True)
