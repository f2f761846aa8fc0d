"""A real server under concurrent writers and readers: no request fails, none is "locked".

uvicorn serves the app (with its worker) in a thread, on a free port, over a SQLite file (and over
PostgreSQL when it is reachable). Eight clients at once send Open311 requests (writes), export
the case list as a workbook (a read that puts itself on the ledger), search the catalog through
CKAN's Action API by POST (a read sent as POST) and read the case list. Every answer must be a
success: no 5xx, and no "database is locked" anywhere in a body.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import ckanapi
import httpx2 as httpx
import pytest
import uvicorn

from citybase.app import create_app
from citybase.core.db.engine import Database
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import ApiKeyCreate, Role
from citybase.core.orgs import boundaries
from citybase.core.settings import Settings
from citybase.data.catalog import service as catalog
from citybase.data.search import service as search
from citybase.demo.seed import BOUNDARIES_FILE, seed_catalog
from tests.core.identity.factories import make_user
from tests.hub.cases.factories import SYSTEM, city
from tests.services.hotline.test_open311 import POST

THREADS = 8
ROUNDS = 25


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed(db: Database, settings: Settings) -> tuple[str, str]:
    with db.session_scope() as session:
        city(session)
        boundaries.import_boundaries(session, SYSTEM, BOUNDARIES_FILE.read_bytes())
        make_user(session, "admin", Role.platform_admin, unit="fz.bigdata")
        make_user(session, "steward", Role.data_steward, unit="fz.bigdata")
        seed_catalog(session)
        search.reindex(session, catalog.all_codes(session))  # as the demo does: searchable now
        operator = identity.principal_for(session, "operator")
        key = identity.create_api_key(session, settings, operator, ApiKeyCreate(name="load"))
        reader = identity.principal_for(session, "super")
        reader_key = identity.create_api_key(session, settings, reader, ApiKeyCreate(name="r"))
    return key.secret, reader_key.secret


@pytest.fixture
def server(fresh_db: Database, fresh_settings: Settings) -> Iterator[tuple[str, str, str]]:
    operator_key, reader_key = _seed(fresh_db, fresh_settings)
    port = _free_port()
    app = create_app(fresh_settings, fresh_db, run_worker=True)
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if uv.started:
            break
        time.sleep(0.05)
    assert uv.started, "the server did not start"
    yield f"http://127.0.0.1:{port}", operator_key, reader_key
    uv.should_exit = True
    thread.join(timeout=20)


def test_writers_and_readers_at_once_never_fail(
    server: tuple[str, str, str], tmp_path: Path
) -> None:
    base, operator_key, reader_key = server
    failures: list[str] = []
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def client_run(n: int) -> None:
        bearer = {"Authorization": f"Bearer {reader_key}"}
        ckan = ckanapi.RemoteCKAN(base, user_agent="citybase-test")
        # a connection is not reused after 2 s idle: uvicorn closes idle ones after 5 s, and a
        # request sent on one as it closes is reset, as with any client that keeps them longer
        keep = httpx.Limits(keepalive_expiry=2.0)
        with httpx.Client(base_url=base, timeout=120, limits=keep) as client:
            for i in range(ROUNDS):
                kind = ("open311", "export", "ckan", "cases")[(n + i) % 4]
                if kind == "open311":
                    body = POST | {"api_key": operator_key, "description": f"井盖缺失 {n}-{i}"}
                    answer = client.post("/open311/v2/requests.json", data=body)
                    ok = answer.status_code == 200
                elif kind == "export":
                    answer = client.get("/api/v1/hub/cases.xlsx", headers=bearer)
                    ok = answer.status_code == 200 and answer.content[:2] == b"PK"
                elif kind == "ckan":
                    try:  # ckanapi sends every action as a POST with a JSON body
                        found = ckan.action.package_search(q="", rows=5)
                    except ckanapi.errors.CKANAPIError as exc:
                        with lock:
                            seen[kind] += 1
                            failures.append(f"ckan: {exc!r}"[:300])
                        continue
                    with lock:
                        seen[kind] += 1
                        if found["count"] < 1:
                            failures.append(f"ckan: {found}"[:300])
                    continue
                else:
                    answer = client.get("/api/v1/hub/cases?limit=20", headers=bearer)
                    ok = answer.status_code == 200
                locked = b"database is locked" in answer.content
                with lock:
                    seen[kind] += 1
                    if not ok or locked or answer.status_code >= 500:
                        failures.append(f"{kind}: {answer.status_code} {answer.text[:300]}")

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(client_run, range(THREADS)))
    assert failures == []
    assert sum(seen.values()) == THREADS * ROUNDS
    with httpx.Client(base_url=base, timeout=60) as client:
        cases = client.get(
            "/api/v1/hub/cases?limit=1", headers={"Authorization": f"Bearer {reader_key}"}
        ).json()
    assert cases["total"] == seen["open311"]  # every request taken in is there, once
