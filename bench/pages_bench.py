"""Console pages benchmark: the pages people open most, on the demo city.

    python bench/pages_bench.py [--rounds 20] [--keep DIR]

Builds the demo city in a scratch SQLite database (or reuses the one already built in
``--keep DIR``), signs each role in, and times the pages each opens most, as the console serves
them (in process, through the whole application: middleware, session, permissions, queries,
templates): the homes and desks of each role, the cases list, a case, the devices and a
device's page, the catalog and a resource, the city brain's dashboard and the cockpit's
overview. Each page gets one request to warm up, then ``--rounds`` timed ones: p50 and p95 in
milliseconds, the page's size, and the ratio of its p50 to the reference measured in the same
run, ``/healthz`` (a trivial page through the same client and middleware). Aim: every page's
p95 under 300 ms.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).parent))
from benchdb import open_db
from citybase.app import create_app
from citybase.core.settings import Settings
from citybase.data.catalog.models import DataResource as Resource
from citybase.demo.seed import DEMO_PASSWORD, build_demo, demo_exists
from citybase.hub.cases.models import Case
from citybase.perception.devices.models import Device


def sign_in(client: TestClient, username: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token is not None
    answer = client.post("/login", data={"username": username, "password": DEMO_PASSWORD,
                                         "next": "/", "login_token": token.group(1)},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text


def timed(client: TestClient, path: str, rounds: int) -> tuple[float, float, int]:
    """p50 and p95 milliseconds of ``rounds`` GETs after one to warm up, and the size."""
    first = client.get(path)
    if first.status_code != 200:
        raise RuntimeError(f"{path} answered {first.status_code}")
    spent = []
    for _ in range(rounds):
        start = time.perf_counter()
        answer = client.get(path)
        spent.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, path
    spent.sort()
    p95 = spent[min(len(spent) - 1, round(0.95 * (len(spent) - 1)))]
    return statistics.median(spent), p95, len(first.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="build the demo here once and reuse it")
    parser.add_argument("--only", default="", help="time only the pages whose label has this")
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory()
    home = args.keep or Path(scratch.name)
    home.mkdir(parents=True, exist_ok=True)
    db = open_db("sqlite", home)
    settings = Settings(home=home, database_url=f"sqlite:///{home}/bench.db")
    if not demo_exists(db):
        start = time.perf_counter()
        build_demo(db, settings)
        print(f"demo city built in {time.perf_counter() - start:.0f} s")
    with db.session_scope(readonly=True) as session:
        case = session.scalars(select(Case.number).order_by(Case.id.desc()).limit(1)).one()
        cases = len(session.scalars(select(Case.id)).all())
        device = session.scalars(
            select(Device.device_id).where(Device.lon.is_not(None)).limit(1)
        ).one()
        devices = len(session.scalars(select(Device.id)).all())
        resource = session.scalars(select(Resource.code).limit(1)).one()
        resources = len(session.scalars(select(Resource.id)).all())
    print(f"demo city: {cases} cases, {devices} devices, {resources} catalog resources")
    pages = [  # (label, role, path)
        ("home: platform admin", "admin", "/"),
        ("home: case handler", "handler", "/"),
        ("desk: 12345 operator", "operator", "/console/hotline/desk"),
        ("cases list", "supervisor", "/console/hub/cases"),
        ("a case", "supervisor", f"/console/hub/cases/{case}"),
        ("devices (map)", "admin", "/console/perception/devices"),
        ("a device (curves)", "admin", f"/console/perception/devices/{device}"),
        ("catalog list", "steward", "/console/catalog"),
        ("a resource", "steward", f"/console/catalog/{resource}"),
        ("dashboard: city brain", "supervisor", "/console/hub/brain"),
        ("cockpit overview", "viewer", "/console/cockpit"),
        ("region page: the city (map)", "admin", "/console/regions/350100"),
        ("outlines for the map (GeoJSON)", "admin", "/regions/outlines?level=district"),
    ]
    app = create_app(settings, db)
    clients: dict[str, TestClient] = {}
    with TestClient(app) as anonymous:
        reference, ref95, _ = timed(anonymous, "/healthz", args.rounds)
        print(f"{'page':32} {'p50 ms':>8} {'p95 ms':>8} {'KB':>6} {'p50 ÷ ref':>10}")
        print(f"{'/healthz (reference)':32} {reference:8.1f} {ref95:8.1f} {'':>6} {1:10.1f}")
        for label, role, path in pages:
            if args.only and args.only not in label:
                continue
            if role not in clients:
                clients[role] = TestClient(app)
                sign_in(clients[role], role)
            p50, p95, size = timed(clients[role], path, args.rounds)
            mark = "" if p95 < 300 else "  (p95 over 300 ms)"
            print(f"{label:32} {p50:8.1f} {p95:8.1f} {size / 1024:6.0f} "
                  f"{p50 / reference:10.1f}{mark}")  # fmt: skip
    db.dispose()
    scratch.cleanup()


if __name__ == "__main__":
    main()
