"""The request's transaction: read-only for reads (GET, HEAD, and POST routes marked
``reads_only``), writing for everything else and for ``traced_read`` GETs. A read-only request
that tries to write fails loudly, on SQLite and PostgreSQL alike, and its own transaction — not
only the test's savepoint — is read-only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from citybase.core.db.engine import Database
from citybase.core.web.deps import DbSession, reads_only, traced_read


def _app(db: Database, override: Session | None = None) -> FastAPI:
    app = FastAPI()
    app.state.db = db
    if override is not None:
        app.state.session_override = override

    def count(session: Session) -> int:
        return int(session.execute(text("SELECT count(*) FROM probe_writes")).scalar_one())

    def write(session: Session) -> int:
        session.execute(text("INSERT INTO probe_writes (x) VALUES (1)"))
        return count(session)

    @app.get("/count")
    def get_count(session: DbSession) -> int:
        return count(session)

    @app.get("/sneaky")
    def sneaky_get(session: DbSession) -> int:  # a read route that writes: a defect
        return write(session)

    @app.get("/traced")
    @traced_read
    def traced_get(session: DbSession) -> int:
        return write(session)

    @app.post("/search")
    @reads_only
    def search(session: DbSession) -> int:
        return count(session)

    @app.post("/search-that-writes")
    @reads_only
    def search_that_writes(session: DbSession) -> int:
        return write(session)

    @app.post("/write")
    def post_write(session: DbSession) -> int:
        return write(session)

    return app


@pytest.fixture
def probe(fresh_db: Database) -> Iterator[Database]:
    with fresh_db.session_scope() as session:
        session.execute(text("CREATE TABLE probe_writes (x INTEGER)"))
    yield fresh_db
    with fresh_db.session_scope() as session:
        session.execute(text("DROP TABLE probe_writes"))


def _check(client: TestClient) -> None:
    assert client.post("/write").json() == 1
    assert client.get("/count").json() == 1
    assert client.get("/traced").json() == 2  # marked: a writing transaction
    assert client.post("/search").json() == 2  # marked: a read-only transaction
    for method, path in (("GET", "/sneaky"), ("POST", "/search-that-writes")):
        with pytest.raises(DBAPIError, match=r"read-only|readonly"):
            client.request(method, path)
    assert client.get("/count").json() == 2  # what the refused writes tried left nothing


def test_reads_run_read_only_and_a_read_that_writes_fails(probe: Database) -> None:
    with TestClient(_app(probe)) as client:
        _check(client)


def test_the_same_holds_inside_a_tests_transaction(probe: Database) -> None:
    connection = probe.engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        with TestClient(_app(probe, session)) as client:
            _check(client)
        # the read-only savepoints left the test's own transaction writable
        session.execute(text("INSERT INTO probe_writes (x) VALUES (1)"))
    finally:
        session.close()
        outer.rollback()
        connection.close()


def test_a_reader_never_waits_for_a_writer(probe: Database, tmp_path: Path) -> None:
    """A writer holds its transaction open; a read-only session still reads at once (WAL on
    SQLite, MVCC on PostgreSQL) and sees what was committed before."""
    with probe.session_scope() as session:
        session.execute(text("INSERT INTO probe_writes (x) VALUES (7)"))
    writer = probe.session()
    try:
        writer.execute(text("INSERT INTO probe_writes (x) VALUES (8)"))  # holds the write lock
        with probe.session_scope(readonly=True) as reader:
            assert reader.execute(text("SELECT sum(x) FROM probe_writes")).scalar_one() == 7
    finally:
        writer.rollback()
        writer.close()
