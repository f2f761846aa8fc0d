"""Readiness names what does not answer: the database, the shared store, the bus's NATS server
and the MQTT broker (the last two only when configured)."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx2 as httpx
import pytest

from citybase.core.db.engine import Database
from citybase.core.health import HealthServer, readiness
from citybase.core.settings import Settings
from citybase.core.shared.service import open_store
from tests.conftest import reachable


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens


def test_ready_when_what_is_configured_answers(database: Database, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    shared = open_store(settings, database)
    ok, states = readiness(settings, database, shared)
    assert ok
    assert states == {"database": "ok", "shared": "ok", "bus": "off", "broker": "off"}
    shared.close()


def test_not_ready_names_the_bus_and_broker_that_do_not_answer(
    database: Database, tmp_path: Path
) -> None:
    port = _closed_port()
    settings = Settings(home=tmp_path, bus_url=f"nats://127.0.0.1:{port}",
                        perception={"mqtt_url": f"mqtt://u:p@127.0.0.1:{port}"})  # fmt: skip
    ok, states = readiness(settings, database)
    assert not ok
    assert states["database"] == "ok"
    assert states["bus"] == "ConnectionRefusedError"
    assert states["broker"] == "ConnectionRefusedError"


def test_a_server_that_is_not_nats_is_not_taken_for_one(database: Database, tmp_path: Path) -> None:
    if not reachable("redis://127.0.0.1:6379", 6379):
        pytest.skip("no other server to ask")
    settings = Settings(home=tmp_path, bus_url="nats://127.0.0.1:6379")  # Redis says nothing first
    ok, states = readiness(settings, database)
    assert not ok
    assert states["bus"] != "ok"


def test_the_real_nats_and_broker_answer(database: Database, tmp_path: Path) -> None:
    if not (reachable("nats://127.0.0.1:4222", 4222) and reachable("mqtt://127.0.0.1", 1883)):
        pytest.skip("NATS or Mosquitto is not reachable")
    settings = Settings(home=tmp_path, bus_url="nats://127.0.0.1:4222",
                        perception={"mqtt_url": "mqtt://127.0.0.1:1883"})  # fmt: skip
    ok, states = readiness(settings, database)
    assert (ok, states["bus"], states["broker"]) == (True, "ok", "ok")


def test_the_health_server_answers_both_probes() -> None:
    alive = {"now": True}
    server = HealthServer("127.0.0.1", 0, lambda: alive["now"],
                          lambda: (False, {"database": "OperationalError"})).start()  # fmt: skip
    try:
        url = f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{url}/healthz").status_code == 200
        alive["now"] = False
        stalled = httpx.get(f"{url}/healthz")
        assert (stalled.status_code, stalled.json()["loop"]) == (503, "stalled")
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "database": "OperationalError"}
        assert httpx.get(f"{url}/other").status_code == 404
    finally:
        server.stop()
