"""NGSI-LD: no unit changes another unit's entities, history or subscriptions; reading follows
the setting (within the platform, each unit its own, public types for anyone); notification
endpoints stay off the platform's own network."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.identity import service as identity
from citybase.core.identity.schemas import ApiKeyCreate, Role
from citybase.core.settings import Settings
from citybase.perception.context.models import (
    AttributeInstance,
    AttributeSeries,
    ContextEntity,
    ContextSubscription,
)
from tests.core.identity.factories import make_user, principal_of
from tests.core.orgs.factories import make_city, make_unit

JSON = {"Content-Type": "application/json"}
E = "urn:ngsi-ld:WaterLevel:river-1"
BASE = "/ngsi-ld/v1"


def _key(session: Session, settings: Settings, user: str) -> dict[str, str]:
    secret = identity.create_api_key(session, settings, principal_of(session, user),
                                     ApiKeyCreate(name="ngsi")).secret  # fmt: skip
    return {"Authorization": f"Bearer {secret}", **JSON}


@pytest.fixture
def keys(session: Session, settings: Settings) -> dict[str, dict[str, str]]:
    make_city(session)
    make_unit(session, "WATER", "市水利局")
    make_unit(session, "TRAFFIC", "市交通局")
    make_user(session, "water", Role.unit_admin, unit="WATER")
    make_user(session, "traffic", Role.unit_admin, unit="TRAFFIC")
    make_user(session, "trafficview", Role.case_handler, unit="TRAFFIC")
    make_user(session, "root", Role.platform_admin, unit="WATER")
    return {u: _key(session, settings, u) for u in ("water", "traffic", "trafficview", "root")}


def _gauge(
    entity_id: str = E, level: float = 2.0, when: str = "2026-12-01T08:00:00Z"
) -> dict[str, Any]:
    return {"id": entity_id, "type": "WaterLevelObserved",
            "level": {"type": "Property", "value": level, "observedAt": when},
            "location": {"type": "GeoProperty",
                         "value": {"type": "Point", "coordinates": [119.3, 26.08]}}}  # fmt: skip


def _state(session: Session, entity_id: str = E) -> tuple[Any, ...]:
    """What is kept of an entity and its history, to show that nothing changed."""
    session.expire_all()
    row = session.get(ContextEntity, entity_id)
    kept = session.scalar(select(func.count()).select_from(AttributeInstance).join(
        AttributeSeries, AttributeSeries.id == AttributeInstance.series_id).where(
        AttributeSeries.entity_id == entity_id))  # fmt: skip
    return (None if row is None else (row.type, json.dumps(row.attrs, sort_keys=True), row.unit),
            kept)  # fmt: skip


def test_an_entity_belongs_to_the_unit_that_made_it(
    client: TestClient, session: Session, keys: dict[str, dict[str, str]]
) -> None:
    made = client.post(f"{BASE}/entities", content=json.dumps(_gauge()), headers=keys["water"])
    assert made.status_code == 201, made.text
    assert session.get(ContextEntity, E).unit == "WATER"  # type: ignore[union-attr]


def test_another_unit_cannot_change_or_delete_an_entity(
    client: TestClient, session: Session, keys: dict[str, dict[str, str]]
) -> None:
    client.post(f"{BASE}/entities", content=json.dumps(_gauge()), headers=keys["water"])
    before = _state(session)
    level = json.dumps({"level": {"type": "Property", "value": 9.9}})
    other = keys["traffic"]
    attempts = [
        client.patch(f"{BASE}/entities/{E}/attrs", content=level, headers=other),
        client.post(f"{BASE}/entities/{E}/attrs", content=level, headers=other),
        client.patch(f"{BASE}/entities/{E}/attrs/level", content=json.dumps({"value": 9.9}),
                     headers=other),
        client.delete(f"{BASE}/entities/{E}/attrs/level", headers=other),
        client.put(f"{BASE}/entities/{E}", content=json.dumps(
            {"type": "WaterLevelObserved", "level": {"type": "Property", "value": 0}}),
            headers=other),
        client.delete(f"{BASE}/entities/{E}", headers=other),
    ]  # fmt: skip
    for answer in attempts:
        assert answer.status_code == 403, (answer.request.method, answer.request.url, answer.text)
        assert answer.json()["type"].startswith("https://")  # ProblemDetails
        assert "WATER" in answer.json()["detail"]
    assert _state(session) == before
    # a reader without the managing permission is refused before ownership is even asked
    assert client.delete(f"{BASE}/entities/{E}", headers=keys["trafficview"]).status_code == 403
    # the owner may, and so may a platform administrator
    assert client.patch(f"{BASE}/entities/{E}/attrs", content=level,
                        headers=keys["water"]).status_code == 204  # fmt: skip
    assert client.delete(f"{BASE}/entities/{E}", headers=keys["root"]).status_code == 204


def test_a_batch_judges_each_entity_on_its_own(
    client: TestClient, session: Session, keys: dict[str, dict[str, str]]
) -> None:
    client.post(f"{BASE}/entities", content=json.dumps(_gauge()), headers=keys["water"])
    before = _state(session)
    mine = "urn:ngsi-ld:WaterLevel:traffic-own"
    for operation, body in (
        ("upsert", [_gauge(level=7.0), _gauge(mine, 1.0)]),
        ("upsert?options=update", [_gauge(level=7.0)]),
        ("create", [_gauge(level=7.0)]),
        ("update", [{"id": E, "type": "WaterLevelObserved",
                     "level": {"type": "Property", "value": 7.0}}]),
        ("delete", [E]),
    ):  # fmt: skip
        answer = client.post(f"{BASE}/entityOperations/{operation}", content=json.dumps(body),
                             headers=keys["traffic"])  # fmt: skip
        assert answer.status_code == 207, (operation, answer.text)
        errors = {e["entityId"]: e["error"] for e in answer.json()["errors"]}
        assert E in errors, operation
        if operation != "create":  # create: it exists (409) before it is another's
            assert errors[E]["status"] == 403, (operation, errors[E])
        assert E not in answer.json()["success"]
        assert _state(session) == before, operation
    assert session.get(ContextEntity, mine).unit == "TRAFFIC"  # type: ignore[union-attr]


def test_another_unit_cannot_rewrite_the_history(
    client: TestClient, session: Session, keys: dict[str, dict[str, str]]
) -> None:
    client.post(f"{BASE}/entities", content=json.dumps(_gauge()), headers=keys["water"])
    client.patch(f"{BASE}/entities/{E}/attrs", headers=keys["water"], content=json.dumps(
        {"level": {"type": "Property", "value": 2.5, "observedAt": "2026-12-01T09:00:00Z"}}))  # fmt: skip
    session.commit()  # the history is written when the work commits
    history = client.get(f"{BASE}/temporal/entities/{E}", headers=keys["water"]).json()
    instance = history["level"][0]["instanceId"]
    before = _state(session)
    assert before[1] == 3  # level twice, location once
    other = keys["traffic"]
    more = {"level": [{"type": "Property", "value": 0.0, "observedAt": "2026-12-02T00:00:00Z"}]}
    attempts = [
        client.post(f"{BASE}/temporal/entities", content=json.dumps(
            {"id": E, "type": "WaterLevelObserved", **more}), headers=other),
        client.post(f"{BASE}/temporal/entities/{E}/attrs", content=json.dumps(more),
                    headers=other),
        client.patch(f"{BASE}/temporal/entities/{E}/attrs/level/{instance}",
                     content=json.dumps({"value": 0.0}), headers=other),
        client.delete(f"{BASE}/temporal/entities/{E}/attrs/level/{instance}", headers=other),
        client.delete(f"{BASE}/temporal/entities/{E}/attrs/level", headers=other),
        client.delete(f"{BASE}/temporal/entities/{E}", headers=other),
    ]  # fmt: skip
    for answer in attempts:
        assert answer.status_code == 403, (answer.request.method, answer.request.url, answer.text)
    session.commit()
    assert _state(session) == before
    # history written directly (no entity in the store) belongs to the unit that began it
    lone = "urn:ngsi-ld:WaterLevel:archive"
    assert client.post(f"{BASE}/temporal/entities", headers=keys["water"], content=json.dumps(
        {"id": lone, "type": "WaterLevelObserved", **more})).status_code == 201  # fmt: skip
    session.commit()
    assert client.delete(f"{BASE}/temporal/entities/{lone}", headers=other).status_code == 403
    assert client.delete(f"{BASE}/temporal/entities/{lone}",
                         headers=keys["water"]).status_code == 204  # fmt: skip


def test_a_subscription_is_its_units_alone(
    client: TestClient, session: Session, settings: Settings, keys: dict[str, dict[str, str]]
) -> None:
    client.app.state.settings = settings.model_copy(update={"web": settings.web.model_copy(
        update={"outbound_allow": "127.0.0.1"})})  # type: ignore[attr-defined]  # fmt: skip
    sub = {"entities": [{"type": "WaterLevelObserved"}],
           "notification": {"endpoint": {"uri": "http://127.0.0.1:9/water"}}}  # fmt: skip
    made = client.post(f"{BASE}/subscriptions", content=json.dumps(sub), headers=keys["water"])
    assert made.status_code == 201, made.text
    url = made.headers["Location"]
    row = session.get(ContextSubscription, url.rsplit("/", 1)[1])
    assert row is not None
    assert row.unit == "WATER"
    body = json.dumps(row.body, sort_keys=True)
    other = keys["traffic"]
    assert client.get(url, headers=other).status_code == 404
    assert client.patch(url, content=json.dumps({"isActive": False}),
                        headers=other).status_code == 404  # fmt: skip
    assert client.delete(url, headers=other).status_code == 404
    assert client.get(f"{BASE}/subscriptions", headers=other).json() == []
    session.expire_all()
    row = session.get(ContextSubscription, url.rsplit("/", 1)[1])
    assert row is not None
    assert row.active
    assert json.dumps(row.body, sort_keys=True) == body
    assert client.get(url, headers=keys["water"]).status_code == 200
    assert len(client.get(f"{BASE}/subscriptions", headers=keys["root"]).json()) == 1
    assert client.delete(url, headers=keys["water"]).status_code == 204


def _with(client: TestClient, settings: Settings, **perception: Any) -> None:
    client.app.state.settings = settings.model_copy(update={  # type: ignore[attr-defined]
        "perception": settings.perception.model_copy(update=perception)})  # fmt: skip


def test_within_the_platform_by_default_each_unit_its_own_when_set(
    client: TestClient, session: Session, settings: Settings, keys: dict[str, dict[str, str]]
) -> None:
    client.post(f"{BASE}/entities", content=json.dumps(_gauge()), headers=keys["water"])
    session.commit()
    reader = keys["trafficview"]
    assert client.get(f"{BASE}/entities/{E}", headers=reader).status_code == 200
    assert client.get(f"{BASE}/entities/{E}").status_code == 401  # nobody: nothing is open
    _with(client, settings, entity_read="unit")
    assert client.get(f"{BASE}/entities/{E}", headers=reader).status_code == 404
    found = client.get(f"{BASE}/entities", params={"type": "WaterLevelObserved", "count": "true"},
                       headers=reader)  # fmt: skip
    assert found.json() == []
    assert found.headers["NGSILD-Results-Count"] == "0"
    assert client.get(f"{BASE}/temporal/entities", params={"type": "WaterLevelObserved"},
                      headers=reader).json() == []  # fmt: skip
    assert client.get(f"{BASE}/temporal/entities/{E}", headers=reader).status_code == 404
    assert client.get(f"{BASE}/types", headers=reader).json()["typeList"] == []
    # a manager of another unit cannot even find it to change it
    level = json.dumps({"level": {"type": "Property", "value": 9.9}})
    assert client.patch(f"{BASE}/entities/{E}/attrs", content=level,
                        headers=keys["traffic"]).status_code == 404  # fmt: skip
    assert client.get(f"{BASE}/entities/{E}", headers=keys["water"]).status_code == 200
    assert client.get(f"{BASE}/entities/{E}", headers=keys["root"]).status_code == 200


def test_public_types_are_read_by_anyone_and_nothing_else(
    client: TestClient, session: Session, settings: Settings, keys: dict[str, dict[str, str]]
) -> None:
    client.post(f"{BASE}/entities", content=json.dumps(_gauge()), headers=keys["water"])
    hidden = {"id": "urn:ngsi-ld:Person:1", "type": "Person",
              "name": {"type": "Property", "value": "林小明"}}  # fmt: skip
    client.post(f"{BASE}/entities", content=json.dumps(hidden), headers=keys["water"])
    session.commit()
    _with(client, settings, public_entity_types="WaterLevelObserved", entity_read="unit")
    assert client.get(f"{BASE}/entities/{E}").status_code == 200
    assert client.get(f"{BASE}/entities/{E}", headers=keys["trafficview"]).status_code == 200
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:Person:1").status_code == 404
    assert client.get(f"{BASE}/entities", params={"type": "Person"}).json() == []
    anyone = client.get(f"{BASE}/entities", params={"idPattern": ".*"}).json()
    assert [e["id"] for e in anyone] == [E]
    assert client.get(f"{BASE}/types").json()["typeList"] == ["WaterLevelObserved"]
    # open to read is not open to write
    assert client.delete(f"{BASE}/entities/{E}").status_code == 401
    assert client.post(f"{BASE}/entities", content=json.dumps(_gauge("urn:x:1")),
                       headers=JSON).status_code == 401  # fmt: skip
    assert client.get(f"{BASE}/subscriptions").status_code == 401


# --- notification endpoints ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.5/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://0.0.0.0:5432/",
        "http://[::ffff:127.0.0.1]/hook",
        "mqtt://127.0.0.1:1883/topic",
        "https://2130706433/hook",  # 127.0.0.1 written as one number
    ],
)
def test_a_subscription_may_not_notify_the_platforms_own_network(
    client: TestClient, session: Session, keys: dict[str, dict[str, str]], uri: str
) -> None:
    sub = {"entities": [{"type": "WaterLevelObserved"}],
           "notification": {"endpoint": {"uri": uri}}}  # fmt: skip
    answer = client.post(f"{BASE}/subscriptions", content=json.dumps(sub), headers=keys["water"])
    assert answer.status_code == 400, answer.text
    assert "outbound_allow" in answer.json()["detail"]
    assert session.scalar(select(func.count()).select_from(ContextSubscription)) == 0


def test_an_allowed_network_may_be_notified_but_never_the_metadata_address(
    client: TestClient, session: Session, settings: Settings, keys: dict[str, dict[str, str]]
) -> None:
    client.app.state.settings = settings.model_copy(update={"web": settings.web.model_copy(
        update={"outbound_allow": "10.20.0.0/16, 169.254.0.0/16"})})  # type: ignore[attr-defined]  # fmt: skip
    sub: dict[str, Any] = {"entities": [{"type": "WaterLevelObserved"}],
                           "notification": {"endpoint": {"uri": "http://10.20.1.5/hook"}}}  # fmt: skip
    made = client.post(f"{BASE}/subscriptions", content=json.dumps(sub), headers=keys["water"])
    assert made.status_code == 201, made.text
    sub["notification"]["endpoint"]["uri"] = "http://169.254.169.254/latest/meta-data/"
    assert client.post(f"{BASE}/subscriptions", content=json.dumps(sub),
                       headers=keys["water"]).status_code == 400  # fmt: skip
    moved = client.patch(made.headers["Location"], headers=keys["water"], content=json.dumps(
        {"notification": {"endpoint": {"uri": "http://10.30.0.1/hook"}}}))  # fmt: skip
    assert moved.status_code == 400


def test_a_name_that_later_resolves_inside_is_refused_when_called(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The endpoint's name resolved to a public address when the subscription was made; at
    delivery it resolves to loopback (DNS rebinding): no connection is made."""
    from citybase.core import net

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    answers = iter(["93.184.216.34", "127.0.0.1"])

    def lookup(host: str, port_: int, *args: Any, **kwargs: Any) -> list[Any]:
        address = next(answers)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port_))]

    monkeypatch.setattr(net.socket, "getaddrinfo", lookup)
    policy = net.OutboundPolicy()
    net.check_endpoint(f"http://hooks.example.org:{port}/n", policy)  # public now: accepted
    with pytest.raises(net.OutboundRefused, match="loopback"):
        net.post(f"http://hooks.example.org:{port}/n", b"{}", {}, policy, timeout=1)
    with pytest.raises(TimeoutError):
        listener.accept()  # nothing ever connected
    listener.close()


def test_an_entity_made_anew_cannot_add_to_another_units_history(
    client: TestClient, session: Session, keys: dict[str, dict[str, str]]
) -> None:
    """Water's gauge is deleted; its history stays. Traffic may not make an entity of that id,
    whose values would join Water's history."""
    client.post(f"{BASE}/entities", content=json.dumps(_gauge()), headers=keys["water"])
    session.commit()
    assert client.delete(f"{BASE}/entities/{E}", headers=keys["water"]).status_code == 204
    session.commit()
    before = _state(session)
    assert before[0] is None
    assert before[1] == 2
    made = client.post(f"{BASE}/entities", content=json.dumps(_gauge(level=0.0)),
                       headers=keys["traffic"])  # fmt: skip
    assert made.status_code == 403, made.text
    assert "history" in made.json()["detail"]
    batch = client.post(f"{BASE}/entityOperations/upsert", content=json.dumps([_gauge(level=0.0)]),
                        headers=keys["traffic"])  # fmt: skip
    assert batch.status_code == 207, batch.text
    assert batch.json()["errors"][0]["error"]["status"] == 403
    session.commit()
    assert _state(session) == before
    again = client.post(f"{BASE}/entities", content=json.dumps(_gauge(level=3.0)),
                        headers=keys["water"])  # fmt: skip
    assert again.status_code == 201, again.text


def test_merge_replace_of_one_attribute_and_purge_keep_to_the_owners_entities(
    client: TestClient, session: Session, keys: dict[str, dict[str, str]]
) -> None:
    client.post(f"{BASE}/entities", content=json.dumps(_gauge()), headers=keys["water"])
    before = _state(session)
    other = keys["traffic"]
    level = {"level": {"type": "Property", "value": 9.9}}
    attempts = [
        client.patch(f"{BASE}/entities/{E}", content=json.dumps(level), headers=other),
        client.patch(f"{BASE}/entities/{E}", content=json.dumps({"level": "urn:ngsi-ld:null"}),
                     headers=other),
        client.put(f"{BASE}/entities/{E}/attrs/level", content=json.dumps(level["level"]),
                   headers=other),
    ]  # fmt: skip
    for answer in attempts:
        assert answer.status_code == 403, (answer.request.method, answer.request.url, answer.text)
        assert "WATER" in answer.json()["detail"]
    merged = client.post(f"{BASE}/entityOperations/merge",
                         content=json.dumps([{"id": E, "type": "WaterLevelObserved", **level}]),
                         headers=other)  # fmt: skip
    assert merged.status_code == 207
    assert merged.json()["errors"][0]["entityId"] == E
    # a purge deletes, or drops attributes of, the purging unit's own entities only
    for params in ({"type": "WaterLevelObserved"}, {"type": "WaterLevelObserved", "drop": "level"},
                   {"local": "true"}):  # fmt: skip
        assert client.delete(f"{BASE}/entities", params=params, headers=other).status_code == 204
        assert client.delete(f"{BASE}/entityOperations/purge", params=params,
                             headers=other).status_code == 204  # fmt: skip
    assert _state(session) == before
    # a reader may not purge at all
    assert client.delete(f"{BASE}/entities", params={"type": "WaterLevelObserved"},
                         headers=keys["trafficview"]).status_code == 403  # fmt: skip
    # the owner may
    assert client.patch(f"{BASE}/entities/{E}", content=json.dumps(level),
                        headers=keys["water"]).status_code == 204  # fmt: skip
    assert client.delete(f"{BASE}/entities", params={"type": "WaterLevelObserved"},
                         headers=keys["water"]).status_code == 204  # fmt: skip
    assert _state(session)[0] is None
