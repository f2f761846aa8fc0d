"""Context source registrations and the distributed query and retrieval they serve."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from tests.core.identity.factories import make_user, sign_in
from tests.perception.devices.test_telemetry import city

JSON = {"Content-Type": "application/json"}
BASE = "/ngsi-ld/v1/csourceRegistrations"


@pytest.fixture(autouse=True)
def _sources_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sources here listen on this machine, which an operator must allow."""
    monkeypatch.setenv("CITYBASE_WEB__OUTBOUND_ALLOW", "127.0.0.1")


class Source:
    """A context source on this machine: answers GETs from ``entities`` (by path), keeps what
    it was asked."""

    def __init__(self) -> None:
        self.entities: list[dict[str, Any]] = []
        self.asked: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []
        self.delay = 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                outer.asked.append((parts.path, parse_qs(parts.query), dict(self.headers)))
                time.sleep(outer.delay)
                if parts.path.startswith("/ngsi-ld/v1/entities/"):
                    wanted = parts.path.rsplit("/", 1)[1].replace("%3A", ":")
                    found: Any = next((e for e in outer.entities if e["id"] == wanted), None)
                else:
                    found = outer.entities
                body = json.dumps(found).encode()
                self.send_response(404 if found is None else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def source() -> Iterator[Source]:
    found = Source()
    yield found
    found.server.shutdown()
    found.server.server_close()


def _registration(endpoint: str, **more: Any) -> dict[str, Any]:
    return {"type": "ContextSourceRegistration", "endpoint": endpoint,
            "information": [{"entities": [{"type": "WaterLevelObserved"}],
                             "propertyNames": ["level", "name"]}], **more}  # fmt: skip


def _manager(client: TestClient, session: Session, name: str = "water",
             unit: str | None = None) -> dict[str, str]:  # fmt: skip
    make_user(session, name, Role.unit_admin, unit=unit)
    return {"X-CSRF-Token": sign_in(client, name), **JSON}


def test_registrations_are_checked_kept_shown_changed_and_deleted(
    client: TestClient, session: Session
) -> None:
    h = _manager(client, session)
    made = client.post(BASE, content=json.dumps(_registration(
        "http://127.0.0.1:9", registrationName="鼓楼区", management={"timeout": 500},
        contextSourceInfo=[{"key": "Authorization", "value": "Bearer s3cret"},
                           {"key": "district", "value": "350102"}])), headers=h)  # fmt: skip
    assert made.status_code == 201, made.text
    location = made.headers["Location"]
    assert location.startswith(BASE + "/urn:ngsi-ld:ContextSourceRegistration:")
    shown = client.get(location).json()
    assert (shown["mode"], shown["status"], shown["registrationName"]) == \
        ("inclusive", "ok", "鼓楼区")  # fmt: skip
    # a credential is kept for the source, never shown
    assert shown["contextSourceInfo"] == [{"key": "Authorization", "value": "***"},
                                          {"key": "district", "value": "350102"}]  # fmt: skip
    # in another reader's terms: the type and names through their IRIs
    theirs = client.get(location, headers={"Link": '<https://uri.etsi.org/ngsi-ld/v1/'
                                           'ngsi-ld-core-context.jsonld>; rel="http://www.w3.org'
                                           '/ns/json-ld#context"'})  # fmt: skip
    assert theirs.status_code == 200
    assert client.get(BASE, params={"count": "true"}).headers["NGSILD-Results-Count"] == "1"
    assert client.get(BASE, params={"type": "WaterLevelObserved"}).json()[0]["id"] == shown["id"]
    assert client.get(BASE, params={"type": "Streetlight"}).json() == []
    assert client.get(BASE, params={"attrs": "level"}).json()[0]["id"] == shown["id"]
    assert client.get(BASE, params={"attrs": "colour"}).json() == []

    changed = client.patch(location, content=json.dumps(
        {"mode": "auxiliary", "management": {"localOnly": True}}), headers=h)  # fmt: skip
    assert changed.status_code == 204, changed.text
    kept = client.get(location).json()
    assert (kept["mode"], kept["management"]) == ("auxiliary", {"timeout": 500,
                                                                "localOnly": True})  # fmt: skip
    again = client.post(BASE, content=json.dumps({**_registration("http://127.0.0.1:9"),
                                                  "id": shown["id"]}), headers=h)  # fmt: skip
    assert (again.status_code, again.json()["type"].rsplit("/", 1)[1]) == (409, "AlreadyExists")
    assert client.delete(location, headers=h).status_code == 204
    assert client.get(location).status_code == 404


@pytest.mark.parametrize(("change", "field"), [
    ({"type": "Registration"}, "type"),
    ({"information": []}, "information"),
    ({"information": [{"entities": [{"id": "urn:x:1"}]}]}, "information"),
    ({"information": [{"entities": [{"type": "T", "idPattern": "("}]}]}, "information"),
    ({"information": [{"colour": ["red"]}]}, "information"),
    ({"endpoint": "ftp://127.0.0.1/"}, "endpoint"),
    ({"endpoint": "http://169.254.169.254"}, "endpoint"),  # the cloud's metadata address
    ({"mode": "sometimes"}, "mode"),
    ({"mode": "exclusive"}, "information"),  # no entity id named
    ({"operations": ["stealEntity"]}, "operations"),
    ({"management": {"timeout": 0}}, "management"),
    ({"management": {"localOnly": "yes"}}, "management"),
    ({"contextSourceInfo": [{"key": "a"}]}, "contextSourceInfo"),
    ({"expiresAt": "2020-01-01T00:00:00Z"}, "expiresAt"),
])  # fmt: skip
def test_a_wrong_registration_is_refused_naming_the_member(
    client: TestClient, session: Session, change: dict[str, Any], field: str
) -> None:
    h = _manager(client, session)
    refused = client.post(BASE, content=json.dumps({**_registration("http://127.0.0.1:9"),
                                                    **change}), headers=h)  # fmt: skip
    assert refused.status_code == 400, refused.text
    assert refused.json()["type"].endswith("BadRequestData")
    assert field in refused.json()["detail"]
    assert client.get(BASE).json() == []


def test_a_registration_is_its_units_alone(client: TestClient, session: Session) -> None:
    city(session)
    make_user(session, "urban", Role.unit_admin, unit="gl.urban")
    h = _manager(client, session, unit="fz.water")
    location = client.post(BASE, content=json.dumps(_registration("http://127.0.0.1:9")),
                           headers=h).headers["Location"]  # fmt: skip
    client.post("/logout", headers=h)
    # signed out: nothing read, nothing made
    client.cookies.clear()
    assert client.get(BASE).status_code == 401
    assert client.get(location).status_code == 401
    assert client.post(BASE, content=json.dumps(_registration("http://127.0.0.1:9")),
                       headers=JSON).status_code == 401  # fmt: skip
    # another unit's manager neither sees nor changes it
    other = {"X-CSRF-Token": sign_in(client, "urban"), **JSON}
    assert client.get(BASE).json() == []
    assert client.get(location).status_code == 404
    assert client.patch(location, content=json.dumps({"mode": "auxiliary"}),
                        headers=other).status_code == 404  # fmt: skip
    assert client.delete(location, headers=other).status_code == 404


def _entity(n: int, level: float, observed: str | None = None) -> dict[str, Any]:
    attr: dict[str, Any] = {"type": "Property", "value": level}
    if observed:
        attr["observedAt"] = observed
    return {"id": f"urn:ngsi-ld:WaterLevel:{n}", "type": "WaterLevelObserved", "level": attr}


def test_a_query_and_a_retrieval_include_the_sources_entities(
    client: TestClient, session: Session, source: Source
) -> None:
    h = _manager(client, session)
    here = {**_entity(1, 1.0, "2026-01-01T00:00:00Z"),
            "name": {"type": "Property", "value": "here"}}  # fmt: skip
    assert client.post("/ngsi-ld/v1/entities", content=json.dumps(here),
                       headers=h).status_code == 201  # fmt: skip
    # the source holds entity 1 too, observed later, with a second instance, and entity 2
    source.entities = [
        {**_entity(1, 2.0, "2026-02-01T00:00:00Z"),
         "level": [{"type": "Property", "value": 2.0, "observedAt": "2026-02-01T00:00:00Z"},
                   {"type": "Property", "value": 9.0, "datasetId": "urn:ngsi-ld:Dataset:b"}],
         "name": {"type": "Property", "value": "there"}},
        _entity(2, 5.0),
    ]  # fmt: skip
    query = {"type": "WaterLevelObserved", "count": "true"}
    assert [e["id"] for e in client.get("/ngsi-ld/v1/entities", params=query).json()] == \
        ["urn:ngsi-ld:WaterLevel:1"]  # fmt: skip
    assert client.post(BASE, content=json.dumps(_registration(
        source.url, contextSourceInfo=[{"key": "Authorization", "value": "Bearer k"}])),
        headers=h).status_code == 201  # fmt: skip

    answer = client.get("/ngsi-ld/v1/entities", params=query)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert [e["id"] for e in found] == ["urn:ngsi-ld:WaterLevel:1", "urn:ngsi-ld:WaterLevel:2"]
    assert answer.headers["NGSILD-Results-Count"] == "2"
    assert "NGSILD-Warning" not in answer.headers
    merged = found[0]
    # the later observation wins for the default instance; the other dataset is added; an
    # attribute without a time keeps this store's value
    assert merged["level"] == [
        {"type": "Property", "value": 2.0, "observedAt": "2026-02-01T00:00:00Z"},
        {"type": "Property", "value": 9.0, "datasetId": "urn:ngsi-ld:Dataset:b"}]  # fmt: skip
    assert merged["name"]["value"] == "here"
    path, params, headers = source.asked[-1]
    assert (path, params["type"], params["limit"]) == ("/ngsi-ld/v1/entities",
                                                       ["WaterLevelObserved"], ["20"])  # fmt: skip
    assert headers["Authorization"] == "Bearer k"
    assert headers["Via"].startswith("1.1 citybase-")
    assert not {"local", "count"} & params.keys()

    # paged after merging
    second = client.get("/ngsi-ld/v1/entities", params={**query, "limit": "1", "offset": "1"})
    assert [e["id"] for e in second.json()] == ["urn:ngsi-ld:WaterLevel:2"]
    # retrieval: an entity only the source holds, and one both hold
    only_there = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevel:2")
    assert (only_there.status_code, only_there.json()["level"]["value"]) == (200, 5.0)
    both = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevel:1").json()
    assert both["level"][0]["value"] == 2.0
    assert client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevel:3").status_code == 404
    # local=true: this store alone, the source not asked
    asked = len(source.asked)
    local = client.get("/ngsi-ld/v1/entities", params={**query, "local": "true"}).json()
    assert [e["id"] for e in local] == ["urn:ngsi-ld:WaterLevel:1"]
    assert local[0]["level"]["value"] == 1.0
    assert client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevel:2",
                      params={"local": "true"}).status_code == 404  # fmt: skip
    assert len(source.asked) == asked
    # a type the registration does not name: the source is not asked
    client.get("/ngsi-ld/v1/entities", params={"type": "Streetlight"})
    assert len(source.asked) == asked


def test_a_request_that_passed_here_is_not_forwarded_again(
    client: TestClient, session: Session, source: Source
) -> None:
    h = _manager(client, session)
    source.entities = [_entity(2, 5.0)]
    client.post(BASE, content=json.dumps(_registration(source.url)), headers=h)
    client.get("/ngsi-ld/v1/entities", params={"type": "WaterLevelObserved"})
    via = source.asked[-1][2]["Via"]
    asked = len(source.asked)
    # the source (a broker that registered this one back) asks with the Via it was sent
    looped = client.get("/ngsi-ld/v1/entities", params={"type": "WaterLevelObserved"},
                        headers={"Via": via})  # fmt: skip
    assert looped.json() == []
    assert len(source.asked) == asked
    # another broker's Via alone does not stop it
    other = client.get("/ngsi-ld/v1/entities", params={"type": "WaterLevelObserved"},
                       headers={"Via": "1.1 somewhere-else"})  # fmt: skip
    assert [e["id"] for e in other.json()] == ["urn:ngsi-ld:WaterLevel:2"]
    assert source.asked[-1][2]["Via"] == f"1.1 somewhere-else, {via}"


def test_a_source_down_or_slow_is_reported_and_the_rest_answered(
    client: TestClient, session: Session, source: Source
) -> None:
    h = _manager(client, session)
    client.post("/ngsi-ld/v1/entities", content=json.dumps(_entity(1, 1.0)), headers=h)
    down = Source()
    down.server.shutdown()
    down.server.server_close()  # nothing listens there any more
    source.entities = [_entity(2, 5.0)]
    source.delay = 1.0
    for endpoint, timeout in ((down.url, 500), (source.url, 200)):
        client.post(BASE, content=json.dumps(_registration(
            endpoint, management={"timeout": timeout})), headers=h)  # fmt: skip
    started = time.monotonic()
    answer = client.get("/ngsi-ld/v1/entities", params={"type": "WaterLevelObserved"})
    assert time.monotonic() - started < 0.9  # both asked at once, each within its timeout
    assert answer.status_code == 200
    assert [e["id"] for e in answer.json()] == ["urn:ngsi-ld:WaterLevel:1"]
    warning = answer.headers["NGSILD-Warning"]
    assert warning.count("199 urn:ngsi-ld:ContextSourceRegistration:") == 2, warning
    # in time, the slow one is heard
    source.delay = 0.0
    assert len(client.get("/ngsi-ld/v1/entities",
                          params={"type": "WaterLevelObserved"}).json()) == 2  # fmt: skip


def test_an_auxiliary_source_only_fills_in(
    client: TestClient, session: Session, source: Source
) -> None:
    h = _manager(client, session)
    client.post("/ngsi-ld/v1/entities", content=json.dumps(_entity(1, 1.0, "2026-01-01T00:00:00Z")),
                headers=h)  # fmt: skip
    source.entities = [{**_entity(1, 7.0, "2027-01-01T00:00:00Z"),
                        "name": {"type": "Property", "value": "aux"}}]  # fmt: skip
    client.post(BASE, content=json.dumps(_registration(source.url, mode="auxiliary")), headers=h)
    got = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevel:1").json()
    assert (got["level"]["value"], got["name"]["value"]) == (1.0, "aux")


def test_a_sources_entities_are_read_as_its_units(
    client: TestClient, session: Session, source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With each unit reading its own, what a unit's source holds is that unit's."""
    city(session)
    make_user(session, "urban", Role.unit_admin, unit="gl.urban")
    h = _manager(client, session, unit="fz.water")
    source.entities = [_entity(2, 5.0)]
    client.post(BASE, content=json.dumps(_registration(source.url)), headers=h)
    client.app.state.settings.perception.entity_read = "unit"  # type: ignore[attr-defined]
    try:
        mine = client.get("/ngsi-ld/v1/entities", params={"type": "WaterLevelObserved"}).json()
        assert [e["id"] for e in mine] == ["urn:ngsi-ld:WaterLevel:2"]
        sign_in(client, "urban")
        theirs = client.get("/ngsi-ld/v1/entities", params={"type": "WaterLevelObserved"})
        assert theirs.json() == []
        assert client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevel:2").status_code == 404
    finally:
        client.app.state.settings.perception.entity_read = "platform"  # type: ignore[attr-defined]
