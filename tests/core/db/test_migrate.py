from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from citybase.core.db import migrate
from citybase.core.db.engine import Database
from citybase.migrations import all_metadata, include_name, include_object


def test_migrations_build_exactly_the_models(database: Database) -> None:
    """The one migration chain and the models agree, on every backend the tests run on."""
    with database.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": include_name,
                "include_object": include_object,
            },
        )
        diff = compare_metadata(context, all_metadata())
    assert diff == []
    assert migrate.is_up_to_date(database.engine)


def test_a_fresh_database_upgrades_and_is_repeatable(fresh_db: Database) -> None:
    migrate.upgrade(fresh_db.engine)  # again: nothing to do, no error
    tables = set(inspect(fresh_db.engine).get_table_names())
    assert {"regions", "units", "users", "ledger_entries", "bus_outbox", "jobs"} <= tables


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()
