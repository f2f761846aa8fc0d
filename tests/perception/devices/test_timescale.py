from __future__ import annotations

import importlib

from sqlalchemy import text

from citybase.core.db.engine import Database


def test_the_readings_become_a_hypertable_only_where_timescaledb_is(database: Database) -> None:
    migration = importlib.import_module(
        "citybase.migrations.versions.0020_readings_as_a_timescaledb_hypertable"
    )
    with database.engine.connect() as connection:
        available = migration.timescale_available(connection)
        if database.dialect == "sqlite":
            assert not available
            return
        hyper = connection.execute(text(
            "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'")).scalar()  # fmt: skip
    assert bool(hyper) == available  # migrated as the server allows
