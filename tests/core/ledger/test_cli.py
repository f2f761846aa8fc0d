from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from citybase.cli import app
from citybase.core.db.engine import Database
from citybase.core.ledger import service
from citybase.core.ledger.schemas import Actor
from citybase.core.settings import Settings
from tests.core.ledger.test_service import _tamper


@pytest.fixture
def home(fresh_db: Database, fresh_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CITYBASE_DATABASE_URL", fresh_db.url)
    with fresh_db.session_scope() as session:
        for i in range(40):
            service.record(session, Actor(f"user{i}"), "test.act", object_id=i)
        service.sign_tree_head(session, fresh_settings)
    return fresh_settings.home


def test_verify_exits_zero_on_an_intact_ledger(home: Path) -> None:
    result = CliRunner().invoke(app, ["ledger", "verify", "--data-dir", str(home)])
    assert result.exit_code == 0, result.output
    assert "40 entries" in result.output


def test_verify_exits_non_zero_naming_the_altered_entry(home: Path, fresh_db: Database) -> None:
    _tamper(fresh_db, "UPDATE ledger_entries SET object_id = '999' WHERE seq = 17")
    result = CliRunner().invoke(app, ["ledger", "verify", "--data-dir", str(home)])
    assert result.exit_code == 1
    assert "entry 17 was altered" in result.output


def test_head_prints_a_signed_head(home: Path) -> None:
    result = CliRunner().invoke(app, ["ledger", "head", "--data-dir", str(home)])
    assert result.exit_code == 0
    assert '"tree_size": 40' in result.output


def test_verify_fails_saying_why_when_the_heads_are_gone(home: Path, fresh_db: Database) -> None:
    _tamper(fresh_db, "DELETE FROM ledger_tree_heads")
    result = CliRunner().invoke(app, ["ledger", "verify", "--data-dir", str(home)])
    assert result.exit_code == 1
    assert "missing from the database" in result.output


def test_verify_fails_when_the_witness_is_gone(home: Path) -> None:
    (home / "ledger-witness" / "tree-heads.jsonl").unlink()
    result = CliRunner().invoke(app, ["ledger", "verify", "--data-dir", str(home)])
    assert result.exit_code == 1
    assert "holds no tree head" in result.output


def test_sign_keeps_and_publishes_a_head(home: Path, fresh_db: Database) -> None:
    with fresh_db.session_scope() as session:
        service.record(session, Actor("late"), "test.act")
    result = CliRunner().invoke(app, ["ledger", "sign", "--data-dir", str(home)])
    assert result.exit_code == 0, result.output
    assert "41 entries" in result.output
    lines = (home / "ledger-witness" / "tree-heads.jsonl").read_text().splitlines()
    assert '"tree_size":41' in lines[-1]
    verified = CliRunner().invoke(app, ["ledger", "verify", "--data-dir", str(home)])
    assert "held to the head of 41 entries" in verified.output
