"""The database a benchmark runs on: a SQLite file in a scratch directory, or the local
PostgreSQL test database emptied first. Shared by the benchmarks that take ``--backend``."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from citybase.core.db import migrate
from citybase.core.db.engine import Database

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def open_db(backend: str, where: Path) -> Database:
    if backend == "sqlite":
        db = Database(f"sqlite:///{where / 'bench.db'}")
    else:
        db = Database(POSTGRES_URL)
        with db.engine.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE"))
            c.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(db.engine)
    return db
