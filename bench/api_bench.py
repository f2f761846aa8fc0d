"""API benchmark: authenticated GETs per second against the same app's /healthz.

    python bench/api_bench.py [--seconds 10] [--connections 4]

Builds the demo city in a temporary SQLite data directory, serves it with ``citybase serve`` (one
uvicorn process, no worker) and drives it from keep-alive HTTP/1.1 connections in threads of this
process. Each figure is requests per second over ``--seconds``; the ratio is to ``/healthz``,
measured in the same run on the same server, so the machine and the client cancel out.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from citybase.core.identity import service as identity
from citybase.core.identity.schemas import ApiKeyCreate
from citybase.core.runtime import open_database
from citybase.core.settings import Settings
from citybase.demo.seed import DEMO_PASSWORD, build_demo


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_key(settings: Settings) -> str:
    db = open_database(settings)
    build_demo(db, settings)
    with db.session_scope() as session:
        outcome = identity.login(session, settings, "supervisor", DEMO_PASSWORD)
        assert outcome.principal is not None
        key = identity.create_api_key(
            session, settings, outcome.principal, ApiKeyCreate(name="bench")
        )
    db.dispose()
    return key.secret


def drive(port: int, path: str, headers: dict[str, str], seconds: float, connections: int) -> float:
    counts = [0] * connections
    stop = time.perf_counter() + seconds

    def run(slot: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        while time.perf_counter() < stop:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{path} answered {response.status}")
            counts[slot] += 1
        conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), database_url=f"sqlite:///{home}/citybase.db")
        secret = make_key(settings)
        port = free_port()
        env = {
            **os.environ,
            "CITYBASE_HOME": home,
            "CITYBASE_DATABASE_URL": settings.resolved_database_url,
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "citybase.cli", "serve", "--no-worker", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            auth = {"Authorization": f"Bearer {secret}"}
            drive(port, "/healthz", {}, 1, args.connections)  # warm up
            health = drive(port, "/healthz", {}, args.seconds, args.connections)
            me = drive(port, "/api/v1/me", auth, args.seconds, args.connections)
            unit = drive(port, "/api/v1/units/fz.urban", auth, args.seconds, args.connections)
        finally:
            server.terminate()
            server.wait(10)
    print(f"connections: {args.connections}, {args.seconds:.0f} s each")
    print(f"GET /healthz (no auth):               {health:,.0f} req/s")
    print(f"GET /api/v1/me (API key):             {me:,.0f} req/s  ratio {me / health:.2f}")
    print(f"GET /api/v1/units/fz.urban (API key): {unit:,.0f} req/s  ratio {unit / health:.2f}")


if __name__ == "__main__":
    main()
