"""Engines and sessions.

The request (or the job) owns the transaction: it opens a session with ``session_scope`` or the
web dependency, services only flush, and the owner commits at the end. On SQLite every writing
transaction starts with ``BEGIN IMMEDIATE`` so that two writers queue on the busy timeout instead
of failing when one upgrades a read lock; read-only sessions use a plain deferred ``BEGIN`` (in
WAL a reader waits for no one) under ``PRAGMA query_only``, so that a read that tries to write
fails at once instead of upgrading its snapshot into a lock fight it can lose ("database is
locked"). On PostgreSQL a read-only session's transaction is ``READ ONLY``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from citybase.core.errors import InvalidInput

READONLY = "citybase_readonly"


def _json(value: Any) -> str:
    # readable in the database, and searchable there with LIKE (no \uXXXX escapes); orjson:
    # JSON columns are written and read on every request, and it does both several times faster
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _unjson(value: Any) -> Any:
    # SQLite gives a bare JSON number back as a number (the column's numeric affinity)
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _refuse_nul(
    _conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, _many: bool
) -> None:
    """No text with a NUL character reaches the database, whichever way it came in (a query
    parameter, a form, a JSON body): PostgreSQL cannot hold one in text (a 500), and SQLite ends
    a LIKE pattern at it (``q=%00`` matched every row). Refused as the caller's mistake."""
    if _holds_nul(parameters):
        raise InvalidInput("text may not hold the NUL character (\\0)", field="text")


def _holds_nul(values: Any) -> bool:
    if isinstance(values, str):
        return "\x00" in values
    if isinstance(values, dict):
        values = values.values()
    elif not isinstance(values, list | tuple):
        return False
    return any(_holds_nul(v) for v in values)


def make_engine(url: str, **kwargs: Any) -> Engine:
    kwargs.setdefault("json_serializer", _json)
    kwargs.setdefault("json_deserializer", _unjson)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        event.listen(engine, "before_cursor_execute", _refuse_nul)
        return engine
    # psycopg prepares a statement on its fifth run, and PostgreSQL may then settle on one
    # generic plan for it: for ``id IN (…500 parameters…)`` that was a sequential scan testing
    # each row against the list one by one (4 s over 160,000 rows, against 1 ms planned for the
    # values). Each run is planned for its own values; the statements stay prepared.
    connect_args = kwargs.pop("connect_args", {})
    options = connect_args.get("options", "")
    connect_args["options"] = f"{options} -c plan_cache_mode=force_custom_plan".strip()
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)
    _configure_postgresql(engine)
    event.listen(engine, "before_cursor_execute", _refuse_nul)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module; "begin" below issues BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "busy_timeout=30000",
            "cache_size=-32768",  # 32 MB a connection (2 MB by default): large tables' inner pages
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        readonly = connection.get_execution_options().get(READONLY, False)
        # query_only belongs to the connection, not the transaction: set on every begin, so a
        # pooled connection never carries a reader's setting into a writer's transaction
        connection.exec_driver_sql(f"PRAGMA query_only={int(readonly)}")
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def _configure_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(READONLY, False):
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")  # the transaction's first


def read_only_savepoint(session: Session) -> None:
    """Make the rest of the session's current savepoint read-only (tests run each request in a
    savepoint of the test's transaction). The savepoint must be rolled back, not released: its
    rollback is what lifts the setting (PostgreSQL) — on SQLite ``lift_read_only`` does."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA query_only=1"))
    else:
        session.execute(text("SET LOCAL transaction_read_only = on"))


def lift_read_only(session: Session) -> None:
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA query_only=0"))


class Database:
    """One engine and its session factories."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self._writer = sessionmaker(self.engine, expire_on_commit=False)
        self._reader = sessionmaker(
            self.engine.execution_options(**{READONLY: True}), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self, *, readonly: bool = False) -> Session:
        return (self._reader if readonly else self._writer)()

    @contextmanager
    def session_scope(self, *, readonly: bool = False) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        session = self.session(readonly=readonly)
        try:
            yield session
            if readonly:
                session.rollback()
            else:
                session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


REQUEST_TX = "citybase_request_tx"


def undo_request(session: Session) -> None:
    """Roll back what the current request (or job) has written so far, and carry on."""
    nested = session.info.get(REQUEST_TX)
    if nested is not None and nested.is_active:
        nested.rollback()
        session.info[REQUEST_TX] = session.begin_nested()
    else:
        session.rollback()


@contextmanager
def kept_after_failure(session: Session) -> Iterator[Session]:
    """What must outlive a failed request or job (why it failed): the work so far is rolled
    back, and the block writes in a transaction of its own, committed when it ends, before the
    failure goes on and the request's (or job's) own rollback finds nothing left to undo. The
    same session, not a second one: on SQLite the failed work's transaction holds the write
    lock until it is rolled back, so a second connection would wait on it in vain."""
    nested = session.info.get(REQUEST_TX)
    if nested is not None and nested.is_active:
        # the request runs in a savepoint (the tests' transaction): undo it, keep the record in
        # the transaction around it, and give the request a new, empty savepoint to roll back
        nested.rollback()
        try:
            yield session
            session.flush()
        finally:
            session.info[REQUEST_TX] = session.begin_nested()
        return
    session.rollback()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def ends_work(session: Session) -> bool:
    """Whether the commit or rollback under way ends the unit of work: the transaction itself,
    or the savepoint a request or job runs in — not a savepoint taken inside it."""
    nested = session.get_nested_transaction()
    return nested is None or nested is session.info.get(REQUEST_TX)


def tx_cache(session: Session) -> dict[str, Any]:
    """A dict that lives as long as the session's transaction (cleared on commit or rollback)."""
    cache: dict[str, Any] = session.info.setdefault("citybase_tx_cache", {})
    return cache


def after_commit(session: Session, callback: Any) -> None:
    """Run ``callback()`` once the session's transaction has committed (never on rollback)."""
    session.info.setdefault("citybase_after_commit", []).append(callback)


@event.listens_for(Session, "after_transaction_end")
def _drop_tx_cache(session: Session, _transaction: Any) -> None:
    # any end, savepoints included: what was cached may have been rolled back
    session.info.pop("citybase_tx_cache", None)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    if not ends_work(session):
        return  # only a savepoint inside the work was released
    callbacks = session.info.pop("citybase_after_commit", [])
    for callback in callbacks:
        callback()


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    if not ends_work(session):
        return  # a savepoint inside the work rolled back: what came before it still stands
    session.info.pop("citybase_after_commit", None)
