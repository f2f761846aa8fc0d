"""What every process of one platform must share, behind one small interface.

Three things are kept here, by key: a **count in a window** (a rate limit's calls, a sign-in
throttle's failures), a **one-time claim** (a picture code that was answered, an NGSI-LD
subscription's throttle window) and a **short-lived value** (the progress of long work, written
by the process doing it and read by whichever process answers the page). Both must hold across every web process and worker of the
platform, and across a restart; neither belongs in the request's transaction: a refused picture
code must stay spent even though the request that spent it is rolled back.

Two backends, chosen by ``CITYBASE_SHARED__BACKEND``:

- ``database`` (default): the ``shared_keys`` table, written in a short transaction of its own.
  Beside a SQLite database it lives in a second SQLite file, ``shared.db`` in the data directory,
  so that counting never queues behind a request's write lock (a request that has begun writing
  holds SQLite's only one); every process of one machine shares it. Beside PostgreSQL it is the
  platform's own table (row locks only), reached through a small connection pool of its own.
- ``redis``: one key per count or claim, expiring with its window (``SET NX EX``, ``INCR``).

Times are wall-clock seconds since the epoch (not a process's monotonic clock: another process
must read the same window).
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from sqlalchemy import text

from citybase.core.db.engine import Database
from citybase.core.shared import repository
from citybase.core.shared.models import SharedKey, SharedValue

if TYPE_CHECKING:
    from citybase.core.settings import Settings

PRUNE_EVERY = 500  # writes of one process between two sweeps of expired rows


class Window(NamedTuple):
    calls: int  # calls counted in the window so far
    seconds_left: int  # until the window ends (0: no window open)


class SharedStore(Protocol):
    """Counts in windows and one-time claims, shared by every process of the platform."""

    name: str

    def add(self, key: str, seconds: int, now: float | None = None) -> Window:
        """Count one under ``key``, in the open window or a new one of ``seconds``."""
        ...

    def read(self, key: str, now: float | None = None) -> Window:
        """What ``key`` has counted in its open window, without counting."""
        ...

    def claim(self, key: str, seconds: float, now: float | None = None) -> bool:
        """Take ``key`` for ``seconds``: True for the first taker in any process, False while
        it is held."""
        ...

    def put(self, key: str, value: str, seconds: float, now: float | None = None) -> None:
        """Keep ``value`` under ``key`` for ``seconds``, replacing what was there."""
        ...

    def get(self, key: str, now: float | None = None) -> str | None:
        """The value kept under ``key``; None when there is none or it expired."""
        ...

    def release(self, key: str) -> None:
        """Forget ``key`` (a count, a claim or a value) at once."""
        ...

    def forget_all(self) -> None:
        """Forget every key of this platform (tests; an operator resetting all limits)."""
        ...

    def ping(self) -> None:
        """Raise when the backend does not answer (readiness)."""
        ...

    def close(self) -> None: ...


_pools: dict[str, Database] = {}
_pools_lock = threading.Lock()


def _pool_for(url: str) -> Database:
    """A connection pool of its own for the shared store beside PostgreSQL, one per process and
    database: a request holds one connection of the platform's pool while it counts, and if
    counting took a second from the same pool, as many requests as the pool holds could each
    wait for another's connection."""
    with _pools_lock:
        found = _pools.get(url)
        if found is None:
            found = _pools[url] = Database(url, pool_size=2, max_overflow=8)
        return found


def _left(ends: float, now: float) -> int:
    return max(1, math.ceil(ends - now)) if ends > now else 0


class DatabaseStore:
    """The ``shared_keys`` table, each call in a transaction of its own."""

    name = "database"

    def __init__(self, db: Database, *, create: bool = False) -> None:
        self.db = db
        self._create = create
        self._owned = create  # its own SQLite file: closed with the store
        self._writes = itertools.count(1)

    @classmethod
    def beside(cls, settings: Settings, db: Database) -> DatabaseStore:
        """The store for a platform on ``db``: its own table on PostgreSQL, else ``shared.db``
        in the data directory."""
        if db.dialect == "postgresql":
            return cls(_pool_for(db.url))
        path = Path(settings.home) / "shared.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(Database(f"sqlite:///{path}"), create=True)

    def _ready(self) -> None:
        if self._create:
            for table in (SharedKey.__table__, SharedValue.__table__):
                table.create(self.db.engine, checkfirst=True)  # type: ignore[attr-defined]
            self._create = False

    def _write(self, fn: Any, *args: Any) -> Any:
        self._ready()
        with self.db.session_scope() as session:
            if self.db.dialect == "postgresql":
                # a count or a claim is not worth waiting for the WAL's flush: a server crash
                # may forget the last few hundred milliseconds of them, never corrupt them
                session.execute(text("SET LOCAL synchronous_commit = off"))
            result = fn(session, *args)
            if next(self._writes) % PRUNE_EVERY == 0:
                repository.prune(session, time.time())
            return result

    def add(self, key: str, seconds: int, now: float | None = None) -> Window:
        moment = time.time() if now is None else now
        count, ends = self._write(repository.add, key, seconds, moment)
        return Window(count, _left(ends, moment))

    def read(self, key: str, now: float | None = None) -> Window:
        moment = time.time() if now is None else now
        self._ready()
        with self.db.session_scope(readonly=True) as session:
            count, ends = repository.read(session, key, moment)
        return Window(count, _left(ends, moment))

    def claim(self, key: str, seconds: float, now: float | None = None) -> bool:
        moment = time.time() if now is None else now
        return bool(self._write(repository.claim, key, seconds, moment))

    def put(self, key: str, value: str, seconds: float, now: float | None = None) -> None:
        self._write(repository.put, key, value, seconds, time.time() if now is None else now)

    def get(self, key: str, now: float | None = None) -> str | None:
        self._ready()
        with self.db.session_scope(readonly=True) as session:
            return repository.get(session, key, time.time() if now is None else now)

    def release(self, key: str) -> None:
        self._write(repository.remove, key)

    def forget_all(self) -> None:
        self._write(repository.remove_all)

    def ping(self) -> None:
        self.read("ping")

    def close(self) -> None:
        if self._owned:
            self.db.dispose()


class RedisStore:
    """One Redis key per count or claim, expiring with it. ``now`` is ignored: Redis keeps the
    time."""

    name = "redis"

    def __init__(self, url: str, prefix: str = "citybase:") -> None:
        import redis

        self.prefix = prefix
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def add(self, key: str, seconds: int, now: float | None = None) -> Window:
        name = self.prefix + key
        pipe = self.client.pipeline(transaction=True)
        pipe.set(name, 0, ex=max(1, seconds), nx=True)
        pipe.incr(name)
        pipe.pttl(name)
        _, count, pttl = pipe.execute()
        return Window(int(count), _left(max(0, int(pttl)) / 1000, 0.0))

    def read(self, key: str, now: float | None = None) -> Window:
        name = self.prefix + key
        pipe = self.client.pipeline(transaction=True)
        pipe.get(name)
        pipe.pttl(name)
        value, pttl = pipe.execute()
        if value is None:
            return Window(0, 0)
        return Window(int(value), _left(max(0, int(pttl)) / 1000, 0.0))

    def claim(self, key: str, seconds: float, now: float | None = None) -> bool:
        taken = self.client.set(self.prefix + key, 1, px=max(1, int(seconds * 1000)), nx=True)
        return bool(taken)

    def put(self, key: str, value: str, seconds: float, now: float | None = None) -> None:
        self.client.set(self.prefix + "value:" + key, value, px=max(1, int(seconds * 1000)))

    def get(self, key: str, now: float | None = None) -> str | None:
        found = self.client.get(self.prefix + "value:" + key)
        if found is None:
            return None
        return found.decode() if isinstance(found, bytes) else str(found)

    def release(self, key: str) -> None:
        self.client.delete(self.prefix + key, self.prefix + "value:" + key)

    def forget_all(self) -> None:
        for name in self.client.scan_iter(match=self.prefix + "*", count=1000):
            self.client.delete(name)

    def ping(self) -> None:
        self.client.ping()

    def close(self) -> None:
        self.client.close()


def open_store(settings: Settings, db: Database) -> SharedStore:
    """The store the settings choose (``CITYBASE_SHARED__BACKEND``)."""
    if settings.shared.backend == "redis":
        return RedisStore(settings.shared.redis_url, settings.shared.redis_prefix)
    return DatabaseStore.beside(settings, db)
