"""The subject index's rebuild keeps every read's subjects, on the way up and down."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from citybase.core.db import migrate
from citybase.core.db.engine import Database

TAG = "ab12" * 16  # a tag as written before: 64 hex digits

_ACCESS = text(
    "INSERT INTO share_accesses (id, at, outcome, refusal, message, operation, resource_code,"
    " provider_unit_code, consumer_unit_code, username, end_user, purpose, legal_basis,"
    " case_number, fields, query, rows, subjects, ledger_seq) VALUES (1, :at, 'allowed', '', '',"
    " 'rows', '101001-000001', 'fz.civil', 'fz.health', 'reader', '', '', '', '', '[]', '{}',"
    " 1, 1, 1)"
)


def test_tags_are_cut_to_twenty_digits_and_back(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    migrate.upgrade(db.engine, "0010")
    with db.engine.begin() as connection:
        connection.execute(_ACCESS, {"at": "2026-11-01 08:00:00"})
        connection.execute(
            text("INSERT INTO share_access_subjects (access_id, subject) VALUES (1, :s)"),
            {"s": TAG},
        )
    migrate.upgrade(db.engine)
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT subject, access_id FROM share_access_subjects"))
        assert rows.all() == [(TAG[:20], 1)]
        plan = connection.execute(
            text(
                "EXPLAIN QUERY PLAN SELECT access_id FROM share_access_subjects WHERE subject = 'x'"
            )
        ).all()
        assert "PRIMARY KEY" in " ".join(str(r[-1]) for r in plan)  # the one tree, searched
    command.downgrade(migrate.alembic_config(db.engine), "0010")
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT access_id, subject FROM share_access_subjects"))
        assert rows.all() == [(1, TAG[:20])]
    migrate.upgrade(db.engine)
    assert migrate.is_up_to_date(db.engine)
    db.dispose()


def test_the_rebuild_runs_on_postgresql(database: Database) -> None:
    """Down and up again on the migrated test database (its tables are empty between tests)."""
    if database.dialect != "postgresql":
        pytest.skip("the SQLite path is the test above")
    command.downgrade(migrate.alembic_config(database.engine), "0010")
    migrate.upgrade(database.engine)
    assert migrate.is_up_to_date(database.engine)
