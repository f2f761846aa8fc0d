"""Federation end to end: a district's citybase and the city's, two servers on this machine each
with its own database; the district registers with the city, and the city's queries and
retrievals include the district's entities."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest
import uvicorn

from citybase.app import create_app
from citybase.core.db import migrate
from citybase.core.db.engine import Database
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import ApiKeyCreate, Role
from citybase.core.settings import Settings
from tests.core.identity.factories import make_user, principal_of


@dataclass
class Broker:
    url: str
    key: str  # an API key of its unit administrator
    server: uvicorn.Server
    thread: threading.Thread
    db: Database

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}


@dataclass
class Reply:
    status_code: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


class Http:
    """A small HTTP client over the standard library (what a district's broker is asked)."""

    def _send(self, method: str, url: str, params: dict[str, str] | None,
              headers: dict[str, str], content: str | None) -> Reply:  # fmt: skip
        full = url + (f"?{urlencode(params)}" if params else "")
        assert full.startswith("http://127.0.0.1:")  # the two servers here, nothing else
        request = Request(full, data=content.encode() if content is not None else None,  # noqa: S310
                          headers=headers, method=method)  # fmt: skip
        try:
            with urlopen(request, timeout=10) as answer:  # noqa: S310 -- checked above
                return Reply(answer.status, {k.lower(): v for k, v in answer.headers.items()},
                             answer.read().decode())  # fmt: skip
        except HTTPError as exc:
            return Reply(exc.code, {k.lower(): v for k, v in exc.headers.items()},
                         exc.read().decode())  # fmt: skip

    def get(self, url: str, *, headers: dict[str, str],
            params: dict[str, str] | None = None) -> Reply:  # fmt: skip
        return self._send("GET", url, params, headers, None)

    def post(self, url: str, *, content: str, headers: dict[str, str]) -> Reply:
        return self._send("POST", url, None, headers, content)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(home: Path, name: str) -> Broker:
    home.mkdir()
    db = Database(f"sqlite:///{home / 'citybase.db'}")
    migrate.upgrade(db.engine)
    settings = Settings(home=home / "home", database_url=db.url)
    with db.session_scope() as session:
        make_user(session, name, Role.unit_admin)
        key = identity.create_api_key(session, settings, principal_of(session, name),
                                      ApiKeyCreate(name="federation")).secret  # fmt: skip
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, db), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, f"the {name} server did not start"
        time.sleep(0.05)
    return Broker(f"http://127.0.0.1:{port}", key, server, thread, db)


@pytest.fixture
def brokers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Broker, Broker]]:
    # both listen on this machine, which the operator allows the city to call
    monkeypatch.setenv("CITYBASE_WEB__OUTBOUND_ALLOW", "127.0.0.1")
    started: list[Broker] = []
    try:
        started.append(_start(tmp_path / "district", "district"))
        started.append(_start(tmp_path / "city", "city"))
        yield started[0], started[1]
    finally:
        for broker in started:
            broker.server.should_exit = True
        for broker in started:
            broker.thread.join(10)
            broker.db.dispose()


def test_the_city_finds_an_entity_that_lives_only_in_the_district(
    brokers: tuple[Broker, Broker],
) -> None:
    district, city_ = brokers
    began = time.monotonic()
    http = Http()
    gauge = {"id": "urn:ngsi-ld:WaterLevelObserved:gulou-1", "type": "WaterLevelObserved",
             "level": {"type": "Property", "value": 2.5,
                       "observedAt": "2026-06-01T08:00:00Z"}}  # fmt: skip
    made = http.post(f"{district.url}/ngsi-ld/v1/entities", content=json.dumps(gauge),
                     headers=district.headers())  # fmt: skip
    assert made.status_code == 201, made.text
    query = {"type": "WaterLevelObserved"}
    assert http.get(f"{city_.url}/ngsi-ld/v1/entities", params=query,
                    headers=city_.headers()).json() == []  # fmt: skip

    registration = {
        "type": "ContextSourceRegistration", "registrationName": "Gulou district",
        "endpoint": district.url, "mode": "inclusive", "operations": ["retrieveOps"],
        "information": [{"entities": [{"type": "WaterLevelObserved"}]}],
        "management": {"timeout": 5000},
        "contextSourceInfo": [{"key": "Authorization", "value": f"Bearer {district.key}"}],
    }  # fmt: skip
    registered = http.post(f"{city_.url}/ngsi-ld/v1/csourceRegistrations",
                           content=json.dumps(registration), headers=city_.headers())  # fmt: skip
    assert registered.status_code == 201, registered.text

    found = http.get(f"{city_.url}/ngsi-ld/v1/entities", params={**query, "count": "true"},
                     headers=city_.headers())  # fmt: skip
    assert found.status_code == 200, found.text
    assert "ngsild-warning" not in found.headers
    assert [e["id"] for e in found.json()] == [gauge["id"]]
    assert found.json()[0]["level"]["value"] == 2.5
    assert found.headers["ngsild-results-count"] == "1"
    one = http.get(f"{city_.url}/ngsi-ld/v1/entities/{gauge['id']}", headers=city_.headers())
    assert (one.status_code, one.json()["level"]["observedAt"]) == \
        (200, "2026-06-01T08:00:00Z")  # fmt: skip
    # the city's own store still holds nothing of it
    assert http.get(f"{city_.url}/ngsi-ld/v1/entities", params={**query, "local": "true"},
                    headers=city_.headers()).json() == []  # fmt: skip

    # the district registers the city back: a query goes round once, not for ever
    back = {**registration, "endpoint": city_.url,
            "contextSourceInfo": [{"key": "Authorization", "value": f"Bearer {city_.key}"}]}  # fmt: skip
    assert http.post(f"{district.url}/ngsi-ld/v1/csourceRegistrations",
                     content=json.dumps(back), headers=district.headers()).status_code == 201  # fmt: skip
    round_trip = http.get(f"{city_.url}/ngsi-ld/v1/entities", params=query,
                          headers=city_.headers())  # fmt: skip
    assert [e["id"] for e in round_trip.json()] == [gauge["id"]]
    assert "ngsild-warning" not in round_trip.headers

    # the district goes down: the city still answers, and says which source failed
    district.server.should_exit = True
    district.thread.join(10)
    down = http.get(f"{city_.url}/ngsi-ld/v1/entities", params=query, headers=city_.headers())
    assert (down.status_code, down.json()) == (200, [])
    assert down.headers["ngsild-warning"].startswith(
        "199 urn:ngsi-ld:ContextSourceRegistration:")  # fmt: skip
    assert time.monotonic() - began < 30
