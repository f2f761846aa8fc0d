"""The shared store's two backends behave alike: counts in windows, one-time claims, and both
hold when several threads (or processes: tests/test_processes.py) use them at once."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from citybase.core.db.engine import Database
from citybase.core.settings import Settings
from citybase.core.shared.service import DatabaseStore, RedisStore, SharedStore, open_store
from tests.conftest import reachable

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture(params=["database", "redis"])
def store(
    request: pytest.FixtureRequest, database: Database, tmp_path: Path
) -> Iterator[SharedStore]:
    if request.param == "redis":
        if database.dialect != "sqlite":
            pytest.skip("Redis does not depend on the database: run it once")
        if not reachable(REDIS_URL, 6379):
            pytest.skip("Redis is not reachable")
        made: SharedStore = RedisStore(REDIS_URL, prefix=f"test-{secrets.token_hex(6)}:")
    else:
        made = DatabaseStore.beside(Settings(home=tmp_path), database)
    made.forget_all()
    yield made
    made.forget_all()
    made.close()


def test_a_count_runs_in_its_window(store: SharedStore) -> None:
    assert store.read("k").calls == 0
    first = store.add("k", 60)
    assert first.calls == 1
    assert 1 <= first.seconds_left <= 60
    assert store.add("k", 60).calls == 2
    assert store.read("k").calls == 2
    assert store.add("other", 60).calls == 1
    store.release("k")
    assert store.read("k").calls == 0


def test_a_window_ends(store: SharedStore) -> None:
    if isinstance(store, RedisStore):
        pytest.skip("Redis keeps its own time")
    store.add("k", 60, now=100.0)
    store.add("k", 60, now=130.0)
    assert store.read("k", now=130.0) == (2, 30)
    assert store.read("k", now=160.0).calls == 0  # over
    assert store.add("k", 60, now=160.0) == (1, 60)  # a new window


def test_a_claim_is_taken_once(store: SharedStore) -> None:
    assert store.claim("token:1", 600)
    assert not store.claim("token:1", 600)
    assert store.claim("token:2", 600)
    store.release("token:1")
    assert store.claim("token:1", 600)


def test_an_expired_claim_is_taken_again(store: SharedStore) -> None:
    if isinstance(store, RedisStore):
        pytest.skip("Redis keeps its own time")
    assert store.claim("t", 10, now=100.0)
    assert not store.claim("t", 10, now=109.0)
    assert store.claim("t", 10, now=110.0)


def test_a_value_is_kept_replaced_and_forgotten(store: SharedStore) -> None:
    assert store.get("progress:1") is None
    store.put("progress:1", '{"done": 1}', 600)
    store.put("progress:1", '{"done": 2}', 600)  # replaced, not added
    assert store.get("progress:1") == '{"done": 2}'
    store.add("progress:1", 60)  # a count under the same name is another thing
    assert store.get("progress:1") == '{"done": 2}'
    store.release("progress:1")
    assert store.get("progress:1") is None


def test_a_value_expires(store: SharedStore) -> None:
    if isinstance(store, RedisStore):
        pytest.skip("Redis keeps its own time")
    store.put("v", "x", 10, now=100.0)
    assert store.get("v", now=109.0) == "x"
    assert store.get("v", now=110.0) is None


def test_threads_at_once_count_every_call_and_claim_once(store: SharedStore) -> None:
    with ThreadPoolExecutor(8) as pool:
        claims = list(pool.map(lambda _: store.claim("once", 600), range(40)))
        list(pool.map(lambda _: store.add("calls", 600), range(40)))
    assert claims.count(True) == 1
    assert store.read("calls").calls == 40


def test_the_setting_chooses_the_backend(database: Database, tmp_path: Path) -> None:
    chosen = open_store(Settings(home=tmp_path), database)
    assert chosen.name == "database"
    chosen.close()
    redis = open_store(
        Settings(home=tmp_path, shared={"backend": "redis", "redis_url": REDIS_URL}), database
    )
    assert isinstance(redis, RedisStore)
    redis.close()
