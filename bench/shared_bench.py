"""Shared store benchmark: what counting one call costs in each backend, against the per-process
dictionary the limits used before (the reference, measured in the same run).

    python bench/shared_bench.py [--calls 5000] [--postgres URL] [--redis URL]

Each figure is ``add`` calls per second from one thread and from 4 threads at once (distinct
keys: a portal of many callers), and one-time ``claim`` calls per second from one thread. SQLite
is a fresh ``shared.db`` in a temporary directory; PostgreSQL and Redis are measured when they
answer (PostgreSQL's ``shared_keys`` table is created if missing and emptied after).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from citybase.core.db.engine import Database
from citybase.core.settings import Settings
from citybase.core.shared.models import SharedKey
from citybase.core.shared.service import DatabaseStore, RedisStore, SharedStore


class MemoryLimiter:
    """The reference: the per-process fixed-window dictionary of the former ``core/web/limits``."""

    def __init__(self) -> None:
        self.windows: dict[str, tuple[float, int]] = {}
        self.lock = threading.Lock()

    def add(self, key: str, seconds: int) -> None:
        moment = time.monotonic()
        with self.lock:
            ends, count = self.windows.get(key, (0.0, 0))
            if moment >= ends:
                ends, count = moment + seconds, 0
            self.windows[key] = (ends, count + 1)


def rate(calls: int, fn: Callable[[int], object], threads: int = 1) -> float:
    start = time.perf_counter()
    if threads == 1:
        for n in range(calls):
            fn(n)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(fn, range(calls)))
    return calls / (time.perf_counter() - start)


def measure(name: str, store: SharedStore, calls: int, reference: float) -> None:
    one = rate(calls, lambda n: store.add(f"bench:{n % 500}", 3600))
    four = rate(calls, lambda n: store.add(f"bench4:{n % 500}", 3600), threads=4)
    claims = rate(calls, lambda n: store.claim(f"once:{n}", 3600))
    print(f"| {name} | {one:,.0f} | {four:,.0f} | {claims:,.0f} | {one / reference:.5f} |")
    store.forget_all()
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    memory = MemoryLimiter()
    reference = rate(args.calls * 20, lambda n: memory.add(f"bench:{n % 500}", 3600))
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    print("| backend | add/s, 1 thread | add/s, 4 threads | claim/s | ratio add / in-memory |")
    print("|---|---|---|---|---|")
    print(f"| in-memory dict (reference) | {reference:,.0f} | | | 1 |")
    with tempfile.TemporaryDirectory() as home:
        db = Database(f"sqlite:///{Path(home) / 'citybase.db'}")
        measure("database: SQLite shared.db", DatabaseStore.beside(Settings(home=Path(home)), db),
                args.calls, reference)  # fmt: skip
    try:
        pg = Database(args.postgres)
        SharedKey.__table__.create(pg.engine, checkfirst=True)  # type: ignore[attr-defined]
        measure("database: PostgreSQL", DatabaseStore(pg), args.calls, reference)
    except Exception as exc:
        print(f"| database: PostgreSQL | not measured: {type(exc).__name__} | | | |")
    try:
        redis = RedisStore(args.redis, prefix="bench:")
        redis.ping()
        measure("redis", redis, args.calls, reference)
    except Exception as exc:
        print(f"| redis | not measured: {type(exc).__name__} | | | |")


if __name__ == "__main__":
    main()
