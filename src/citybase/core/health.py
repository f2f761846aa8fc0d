"""Liveness and readiness, for the web server's ``/healthz`` and ``/readyz`` and the worker's
health port (what a Kubernetes probe or a compose ``healthcheck`` asks).

Liveness says only that the process turns (the web server answers; the worker's loop went round
lately). Readiness says that what it needs answers too: the database, the shared store
(``core/shared``), and — when they are configured — the bus's NATS server and the MQTT broker.
NATS is asked for its greeting (a NATS server speaks first, ``INFO {…}``); the MQTT broker is only
reached (a TCP connection), since speaking MQTT to it would need the platform's credentials.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import text

if TYPE_CHECKING:
    from citybase.core.db.engine import Database
    from citybase.core.settings import Settings
    from citybase.core.shared.service import SharedStore

log = logging.getLogger(__name__)
TIMEOUT = 2.0  # seconds each check may take


def _address(url: str, default_port: int) -> tuple[str, int]:
    first = url.split(",")[0].strip()
    parts = urlsplit(first if "://" in first else f"x://{first}")
    return parts.hostname or "127.0.0.1", parts.port or default_port


def nats_answers(url: str) -> None:
    """Raise unless a NATS server greets us at ``url`` (the first of a comma-separated list)."""
    with socket.create_connection(_address(url, 4222), TIMEOUT) as conn:
        conn.settimeout(TIMEOUT)
        greeting = conn.recv(4096)
    if not greeting.startswith(b"INFO"):
        raise ConnectionError("not a NATS server")


def broker_answers(url: str) -> None:
    """Raise unless the MQTT broker at ``url`` takes a TCP connection."""
    secure = url.startswith(("mqtts://", "ssl://"))
    with socket.create_connection(_address(url, 8883 if secure else 1883), TIMEOUT):
        pass


def readiness(
    settings: Settings, db: Database, shared: SharedStore | None = None
) -> tuple[bool, dict[str, str]]:
    """Each dependency's state (``ok``, ``off`` when not configured, else the error's kind)."""
    checks: dict[str, Callable[[], Any] | None] = {
        "database": lambda: _database(db),
        "shared": shared.ping if shared is not None else None,
        "bus": (lambda: nats_answers(settings.bus_url))
        if settings.bus_url.startswith(("nats://", "tls://"))
        else None,
        "broker": (lambda: broker_answers(settings.perception.mqtt_url))
        if settings.perception.mqtt_url
        else None,
    }
    states: dict[str, str] = {}
    for name, check in checks.items():
        if check is None:
            states[name] = "off"
            continue
        try:
            check()
            states[name] = "ok"
        except Exception as exc:  # the reason goes to the prober; nothing else to do here
            states[name] = type(exc).__name__
    return all(v in ("ok", "off") for v in states.values()), states


def _database(db: Database) -> None:
    with db.session_scope(readonly=True) as session:
        session.execute(text("SELECT 1"))


class HealthServer:
    """A small HTTP server for a process that serves nothing else (``citybase worker``):
    ``GET /healthz`` (200 while ``alive()``, else 503) and ``GET /readyz`` (200 when every
    configured dependency answers, else 503), both JSON. Runs in a daemon thread."""

    def __init__(
        self,
        host: str,
        port: int,
        alive: Callable[[], bool],
        ready: Callable[[], tuple[bool, dict[str, str]]],
    ) -> None:
        def live() -> tuple[bool, dict[str, str]]:
            turning = alive()
            return turning, {"loop": "ok" if turning else "stalled"}

        probes = {"/healthz": live, "/readyz": ready}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                probe = probes.get(self.path.split("?")[0])
                if probe is None:
                    self.send_error(404)
                    return
                ok, states = probe()
                body = json.dumps({"status": "ok" if ok else "unavailable", **states}).encode()
                self.send_response(200 if ok else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug(format, *args)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, name="health", daemon=True)

    def start(self) -> HealthServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
