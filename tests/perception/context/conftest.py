"""Fixtures of the notification tests: a subscriber's endpoint, and the app over a database
whose changes really commit."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citybase.app import create_app
from citybase.core.db.engine import Database
from citybase.core.identity.schemas import Role
from citybase.core.settings import Settings
from tests.core.identity.factories import make_user, sign_in


class Receiver:
    """A subscriber's endpoint on this machine: keeps what it is sent."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], Any]] = []
        self.paths: list[str] = []  # where each notification was sent, in order
        self.arrived = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.arrived:
                    outer.got.append((dict(self.headers), body))
                    outer.paths.append(self.path.lstrip("/"))
                    outer.arrived.notify_all()
                self.send_response(204 if self.path != "/broken" else 500)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, seconds: float = 15) -> list[tuple[dict[str, str], Any]]:
        """What has arrived once ``count`` notifications have (or ``seconds`` have passed: a
        loaded machine may take a while to deliver; a test that expects nothing waits on its own)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.got) >= count, seconds)
        return list(self.got)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()


@pytest.fixture
def live(fresh_settings: Settings, fresh_db: Database) -> Iterator[TestClient]:
    """The app over a database whose changes really commit, so its notifier sees them."""
    with fresh_db.session_scope() as session:
        make_user(session, "water", Role.unit_admin, unit=None)
    with TestClient(create_app(fresh_settings, fresh_db), base_url="http://testserver") as client:
        client.headers["X-CSRF-Token"] = sign_in(client, "water")
        yield client
