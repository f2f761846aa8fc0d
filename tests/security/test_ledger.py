"""Crossing the ledger's tail: whoever can write to the database cuts entries from the end of the
ledger, deletes the signed tree heads that covered them, or edits the witness. Each attempt must
make ``verify`` fail, saying why, and leave the witness as it was."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from citybase.core.db.engine import Database
from citybase.core.ledger import service
from citybase.core.ledger.repository import NODE_SHIFT
from citybase.core.ledger.schemas import Actor
from citybase.core.ledger.witness import DirectoryWitness, witness_for
from citybase.core.settings import Settings
from tests.core.ledger.test_service import _tamper


def _append(db: Database, settings: Settings, n: int, *, sign: bool = True) -> None:
    with db.session_scope() as session:
        for i in range(n):
            service.record(session, Actor(f"user{i % 5}"), "test.act", object_id=i)
        if sign:
            service.sign_tree_head(session, settings)


@pytest.fixture
def ledger(fresh_db: Database, fresh_settings: Settings) -> Database:
    """140 entries with heads signed at 100 and 140, both published to the directory witness."""
    _append(fresh_db, fresh_settings, 100)
    _append(fresh_db, fresh_settings, 40)
    return fresh_db


def _verify(db: Database, settings: Settings) -> service.VerifyReport:
    with db.session_scope(readonly=True) as session:
        return service.verify_with_witness(
            session, service.signer_for(settings), witness_for(settings)
        )


def _cut_tail(db: Database, keep: int) -> None:
    """Remove entries from ``keep`` on, the heads beyond them and the Merkle nodes over them."""
    _tamper(db, "DELETE FROM ledger_entries WHERE seq >= :keep", keep=keep)
    _tamper(db, "DELETE FROM ledger_tree_heads WHERE tree_size > :keep", keep=keep)
    mask = (1 << NODE_SHIFT) - 1
    with db.engine.connect() as connection:
        node_ids = [row[0] for row in connection.execute(text("SELECT node_id FROM ledger_nodes"))]
    for nid in node_ids:
        level, position = nid >> NODE_SHIFT, nid & mask
        if (position + 1) << level > keep:
            _tamper(db, "DELETE FROM ledger_nodes WHERE node_id = :nid", nid=nid)


def _witness_file(settings: Settings) -> Path:
    witness = witness_for(settings)
    assert isinstance(witness, DirectoryWitness)
    return witness.path


def test_an_intact_ledger_passes_and_is_held_to_the_witness(
    ledger: Database, fresh_settings: Settings
) -> None:
    _append(ledger, fresh_settings, 7, sign=False)  # entries not signed yet are no problem
    report = _verify(ledger, fresh_settings)
    assert report.ok, report.problems
    assert report.entries == 147
    assert report.witnessed_size == 140
    assert len(_witness_file(fresh_settings).read_text().splitlines()) == 2


def test_a_tail_cut_with_its_heads_is_found_by_the_witness(
    ledger: Database, fresh_settings: Settings
) -> None:
    before = _witness_file(fresh_settings).read_bytes()
    _cut_tail(ledger, 110)
    with ledger.session_scope(readonly=True) as session:
        # what the database alone can tell: a shorter chain that checks out
        assert service.verify(session, service.signer_for(fresh_settings)).ok
    report = _verify(ledger, fresh_settings)
    assert not report.ok
    assert report.first_bad_seq == 110
    assert "entries from 110 on were removed" in report.problems[0]
    assert "140" in report.problems[0]
    assert _witness_file(fresh_settings).read_bytes() == before


def test_a_tail_cut_and_written_again_is_found(ledger: Database, fresh_settings: Settings) -> None:
    _cut_tail(ledger, 110)
    _append(ledger, fresh_settings, 50, sign=False)  # 160 entries, the last 50 of them new
    report = _verify(ledger, fresh_settings)
    assert not report.ok
    assert "first 140 entries do not match the tree head witnessed" in report.problems[0]


def test_a_deleted_newest_head_is_found(ledger: Database, fresh_settings: Settings) -> None:
    _tamper(ledger, "DELETE FROM ledger_tree_heads WHERE tree_size = 140")
    report = _verify(ledger, fresh_settings)
    assert not report.ok
    assert "missing from the database" in report.problems[0]


def test_deleting_every_head_fails(ledger: Database, fresh_settings: Settings) -> None:
    _tamper(ledger, "DELETE FROM ledger_tree_heads")
    with ledger.session_scope(readonly=True) as session:
        alone = service.verify(session, service.signer_for(fresh_settings))
    assert not alone.ok
    assert "no signed tree head" in alone.problems[0]
    assert not _verify(ledger, fresh_settings).ok


def test_a_ledger_never_signed_fails(fresh_db: Database, fresh_settings: Settings) -> None:
    _append(fresh_db, fresh_settings, 3, sign=False)
    report = _verify(fresh_db, fresh_settings)
    assert not report.ok
    assert "no signed tree head" in report.problems[0]


def _rewrite_last_line(settings: Settings, **changes: object) -> None:
    path = _witness_file(settings)
    lines = path.read_text().splitlines()
    head = json.loads(lines[-1])
    head.update(changes)
    lines[-1] = json.dumps(head)
    path.write_text("\n".join(lines) + "\n")


def test_a_witness_with_another_root_is_found(ledger: Database, fresh_settings: Settings) -> None:
    _rewrite_last_line(fresh_settings, root_hash="ab" * 32)
    report = _verify(ledger, fresh_settings)
    assert not report.ok
    assert "does not carry a valid signature" in report.problems[0]


def test_a_witness_shrunk_to_a_smaller_size_is_found(
    ledger: Database, fresh_settings: Settings
) -> None:
    """Rewriting the witnessed size down, to cover a cut tail, breaks the head's signature."""
    _cut_tail(ledger, 120)
    _rewrite_last_line(fresh_settings, tree_size=120)
    report = _verify(ledger, fresh_settings)
    assert not report.ok
    assert "does not carry a valid signature" in report.problems[0]


def test_a_witness_signed_with_another_key_is_found(
    ledger: Database, fresh_settings: Settings
) -> None:
    forger = service.Signer("17" * 32)
    path = _witness_file(fresh_settings)
    head = json.loads(path.read_text().splitlines()[-1])
    message = service.tree_head_message(
        head["tree_size"],
        bytes.fromhex(head["root_hash"]),
        datetime.fromisoformat(head["signed_at"]),
    )
    _rewrite_last_line(fresh_settings, signature=forger.sign(message).hex(), key_id=forger.key_id)
    report = _verify(ledger, fresh_settings)
    assert not report.ok
    assert "not this platform's key" in report.problems[0]


def test_a_witness_that_is_not_heads_is_found(ledger: Database, fresh_settings: Settings) -> None:
    with _witness_file(fresh_settings).open("a") as f:
        f.write("nothing to see here\n")
    report = _verify(ledger, fresh_settings)
    assert not report.ok
    assert "not a tree head" in report.problems[0]


def test_an_emptied_witness_is_found(ledger: Database, fresh_settings: Settings) -> None:
    _witness_file(fresh_settings).write_text("")
    report = _verify(ledger, fresh_settings)
    assert not report.ok
    assert "holds no tree head" in report.problems[0]
