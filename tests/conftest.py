"""Test fixtures: every database test runs on SQLite, and again on PostgreSQL when it is reachable.

PostgreSQL is taken from ``CITYBASE_TEST_POSTGRES_URL`` (default: the local server on
127.0.0.1:5432, database ``test``, trust auth); when it does not answer, its half of the tests is
skipped. Each test runs in a transaction that is rolled back afterwards; tests that need real
commits (the bus, the worker, the CLI) use ``fresh_db``, which empties the tables instead.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from citybase.app import create_app
from citybase.core.db import migrate
from citybase.core.db.engine import Database
from citybase.core.identity import service as identity_service
from citybase.core.settings import Settings
from citybase.migrations import all_metadata

POSTGRES_URL = os.environ.get(
    "CITYBASE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url.replace("+psycopg", ""))
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1
        ):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> Iterator[None]:
    """argon2 at its production cost would spend most of the suite hashing test passwords."""
    original = identity_service._hasher
    identity_service._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    identity_service._hasher = original


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "citybase.db"
        db = Database(f"sqlite:///{path}")
    else:
        if not reachable(POSTGRES_URL, 5432):
            pytest.skip("PostgreSQL is not reachable")
        db = Database(POSTGRES_URL)
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(db.engine)
    yield db
    db.dispose()


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return Settings(home=tmp_path / "home", database_url=database.url)


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    """A session in a transaction that is rolled back when the test ends."""
    connection = database.engine.connect()
    outer = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def fresh_db(database: Database, tmp_path: Path) -> Iterator[Database]:
    """An empty, migrated database for tests whose work must really commit.

    SQLite: a new file. PostgreSQL: the shared test database, emptied before and after (TRUNCATE
    is not stopped by the ledger's row triggers, which is why only a database owner can do it).
    """
    if database.dialect == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
        migrate.upgrade(db.engine)
        yield db
        db.dispose()
        return
    _truncate(database)
    yield database
    _truncate(database)


def _truncate(db: Database) -> None:
    tables = ", ".join(t.name for t in all_metadata().sorted_tables)
    with db.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def fresh_settings(tmp_path: Path, fresh_db: Database) -> Settings:
    return Settings(home=tmp_path / "home", database_url=fresh_db.url)


@pytest.fixture
def app(settings: Settings, database: Database, session: Session):  # type: ignore[no-untyped-def]
    application = create_app(settings, database)
    application.state.session_override = session
    # the shared store outlives a test's rolled-back transaction (a SQLite file in the test's own
    # data directory, or the PostgreSQL table): each test starts with no limit used
    application.state.shared.forget_all()
    return application


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def form_token(app):  # type: ignore[no-untyped-def]
    """A fresh form token (core/web/once.py), as a form that makes something carries: call it
    once per submission."""
    from citybase.core.web import once

    return lambda: once.issue(app.state.settings)
