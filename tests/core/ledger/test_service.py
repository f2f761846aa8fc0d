from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from citybase.core.db.engine import Database
from citybase.core.errors import InvalidInput, NotFound
from citybase.core.ledger import service
from citybase.core.ledger.models import LedgerEntry
from citybase.core.ledger.repository import node_id
from citybase.core.ledger.schemas import Actor, LedgerFilter
from citybase.core.settings import Settings

SIGNER = service.Signer("42" * 32)


def _fill(session: Session, n: int) -> None:
    service.record_many(
        session,
        [{"actor": f"user{i % 7}", "actor_unit": f"u{i % 3}", "action": "test.act", "object_id": i}
         for i in range(n)],
    )  # fmt: skip


def _brute_root(leaves: list[bytes], lo: int, hi: int) -> bytes:
    if hi - lo == 1:
        return leaves[lo]
    k = service._split(hi - lo)
    return service.hash_children(_brute_root(leaves, lo, lo + k), _brute_root(leaves, lo + k, hi))


def test_rfc9162_hashes_of_empty_and_one_leaf() -> None:
    # RFC 9162 §2.1.1: the empty tree's hash is SHA-256 of nothing; a leaf is SHA-256(0x00 ‖ d)
    assert service.hash_leaf(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


def test_proofs_match_a_brute_force_tree(session: Session) -> None:
    _fill(session, 300)
    leaves = [e.leaf_hash for e in session.query(LedgerEntry).order_by(LedgerEntry.seq)]
    rng = random.Random(7)
    for size in [1, 2, 3, 5, 15, 16, 17, 31, 32, 33, 64, 100, 255, 256, 257, 300]:
        root = service.root_hash(session, size)
        assert root == _brute_root(leaves, 0, size)
        for index in {0, size - 1, rng.randrange(size)}:
            proof = service.inclusion_proof(session, index, size)
            path = [bytes.fromhex(h) for h in proof.audit_path]
            assert service.verify_inclusion(index, size, leaves[index], path, root)
            assert not service.verify_inclusion(
                index, size, leaves[index - 1] if index else leaves[1], path, root
            )
        for first in {1, size, rng.randint(1, size)}:
            c = service.consistency_proof(session, first, size)
            proof_hashes = [bytes.fromhex(h) for h in c.proof]
            assert service.verify_consistency(
                first, size, bytes.fromhex(c.first_root), root, proof_hashes
            )
            if first < size:
                assert not service.verify_consistency(first, size, root, root, proof_hashes)


def test_entries_chain_and_filter(session: Session) -> None:
    service.record(session, Actor("alice", "fz.urban"), "case.close", object_type="case",
                   object_id="C-1", reason="resolved", case_number="FZ2026-001")  # fmt: skip
    service.record(session, Actor("bob", "fz.health"), "case.dispatch", object_id="C-2")
    entries, total = service.find_entries(session, LedgerFilter(unit="fz.urban"))
    assert total == 1
    assert entries[0].case_number == "FZ2026-001"
    both, _ = service.find_entries(session, LedgerFilter(action="case."))
    assert [e.actor for e in both] == ["bob", "alice"]
    assert both[0].prev_hash == both[1].entry_hash


def test_bad_proof_requests_are_clear(session: Session) -> None:
    _fill(session, 3)
    with pytest.raises(NotFound):
        service.inclusion_proof(session, 5)
    with pytest.raises(InvalidInput) as caught:
        service.inclusion_proof(session, 0, tree_size=10)
    assert caught.value.field == "tree_size"
    with pytest.raises(InvalidInput):
        service.consistency_proof(session, 0)


def test_signed_tree_head_verifies(session: Session) -> None:
    _fill(session, 20)
    head = service.signed_tree_head(session, SIGNER)
    message = service.tree_head_message(
        head.tree_size, bytes.fromhex(head.root_hash), head.timestamp
    )
    assert SIGNER.check(bytes.fromhex(head.signature), message)
    assert not SIGNER.check(bytes.fromhex(head.signature), message.replace(b"20", b"21"))


def test_rejected_signing_key() -> None:
    with pytest.raises(InvalidInput):
        service.Signer("not hex")


def test_the_database_refuses_changes_to_entries(session: Session) -> None:
    _fill(session, 1)
    with pytest.raises(DatabaseError, match="append-only"), session.begin_nested():
        session.execute(text("UPDATE ledger_entries SET actor = 'mallory'"))
    with pytest.raises(DatabaseError, match="append-only"), session.begin_nested():
        session.execute(text("DELETE FROM ledger_entries"))


# --- tampering: what someone with direct access to the database could do ---------------------


def _tamper(db: Database, sql: str, **params: Any) -> None:
    """Run ``sql`` with the append-only triggers out of the way, as an intruder would."""
    with db.engine.begin() as connection:
        if db.dialect == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            for table in ("ledger_entries", "ledger_nodes", "ledger_tree_heads"):
                for verb in ("update", "delete"):
                    connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{verb}"))
        connection.execute(text(sql), params)


def _filled(db: Database, n: int = 100) -> None:
    with db.session_scope() as session:
        _fill(session, n)
        service.store_tree_head(session, SIGNER)


def _verify(db: Database) -> service.VerifyReport:
    with db.session_scope(readonly=True) as session:
        return service.verify(session, SIGNER)


def test_verify_passes_an_intact_ledger(fresh_db: Database) -> None:
    _filled(fresh_db)
    report = _verify(fresh_db)
    assert report.ok
    assert report.entries == 100
    assert report.heads_checked == 1
    assert report.nodes_checked == 100 // 16 + 100 // 32 + 100 // 64


def test_verify_names_an_altered_entry(fresh_db: Database) -> None:
    _filled(fresh_db)
    _tamper(fresh_db, "UPDATE ledger_entries SET actor = 'mallory' WHERE seq = 42")
    report = _verify(fresh_db)
    assert not report.ok
    assert report.first_bad_seq == 42
    assert "entry 42 was altered" in report.problems[0]


def test_verify_names_a_removed_entry(fresh_db: Database) -> None:
    _filled(fresh_db)
    _tamper(fresh_db, "DELETE FROM ledger_entries WHERE seq = 57")
    report = _verify(fresh_db)
    assert report.first_bad_seq == 57
    assert "missing" in report.problems[0]


def test_verify_notices_entries_cut_from_the_end(fresh_db: Database) -> None:
    _filled(fresh_db)
    _tamper(fresh_db, "DELETE FROM ledger_entries WHERE seq >= 90")
    report = _verify(fresh_db)
    assert report.first_bad_seq == 90
    assert "removed" in report.problems[0]


def test_verify_notices_a_rewritten_chain(fresh_db: Database) -> None:
    """An intruder who alters entry 20 and recomputes every hash after it is caught by the
    stored Merkle nodes (and, were those rewritten too, by the signed tree head)."""
    _filled(fresh_db)
    with fresh_db.session_scope(readonly=True) as session:
        rows = (
            session.query(LedgerEntry).filter(LedgerEntry.seq >= 20).order_by(LedgerEntry.seq).all()
        )
        prev = rows[0].prev_hash
        forged = []
        for row in rows:
            fields = {c: getattr(row, c) for c in service._FIELDS}
            if row.seq == 20:
                fields["actor"] = "mallory"
            entry_hash = service.compute_entry_hash(prev, fields)
            forged.append(
                (row.seq, fields["actor"], prev, entry_hash, service.hash_leaf(entry_hash))
            )
            prev = entry_hash
    for seq, actor, prev_hash, entry_hash, leaf_hash in forged:
        _tamper(
            fresh_db,
            "UPDATE ledger_entries SET actor = :a, prev_hash = :p, entry_hash = :e, leaf_hash = :l "
            "WHERE seq = :s",
            a=actor, p=prev_hash, e=entry_hash, l=leaf_hash, s=seq,
        )  # fmt: skip
    report = _verify(fresh_db)
    assert not report.ok
    assert report.first_bad_seq == 16
    assert "do not match the stored Merkle tree" in report.problems[0]
    # rewrite the stored nodes too, from the forged leaves: only the signature is left to catch it
    with fresh_db.session_scope(readonly=True) as session:
        leaves = [e.leaf_hash for e in session.query(LedgerEntry).order_by(LedgerEntry.seq)]
    _tamper(fresh_db, "DELETE FROM ledger_nodes")
    level = service.NODE_MIN_LEVEL
    while (1 << level) <= len(leaves):
        size = 1 << level
        for index in range(len(leaves) // size):
            _tamper(
                fresh_db, "INSERT INTO ledger_nodes (node_id, hash) VALUES (:n, :h)",
                n=node_id(level, index), h=_brute_root(leaves, index * size, (index + 1) * size),
            )  # fmt: skip
        level += 1
    report = _verify(fresh_db)
    assert not report.ok
    assert "signed tree head" in report.problems[0]


def test_store_tree_head_only_when_grown(fresh_db: Database, settings: Settings) -> None:
    _filled(fresh_db, 5)
    with fresh_db.session_scope() as session:
        assert service.store_tree_head(session, SIGNER) is None
        _fill(session, 1)
        head = service.store_tree_head(session, SIGNER)
        assert head is not None
        assert head.tree_size == 6


def test_appends_from_two_sessions_keep_one_chain(fresh_db: Database) -> None:
    for i in range(5):
        with fresh_db.session_scope() as session:
            service.record(session, Actor(f"a{i}"), "x")
    with fresh_db.session_scope() as first:
        service.record(first, Actor("a"), "x")
        service.store_tree_head(first, SIGNER)
    report = _verify(fresh_db)
    assert report.ok
    assert report.entries == 6


def test_an_append_that_waits_too_long_for_the_lock_is_refused_as_busy(
    fresh_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL appends take an advisory lock; one held by a transaction that does not end
    makes the next append give up after the timeout with Busy (503), and nothing of it is kept."""
    if fresh_db.dialect != "postgresql":
        pytest.skip("the lock is PostgreSQL's; SQLite serialises writers by BEGIN IMMEDIATE")
    from citybase.core.errors import Busy
    from citybase.core.ledger import repository

    monkeypatch.setattr(repository, "APPEND_LOCK_TIMEOUT", "300ms")
    with fresh_db.session_scope() as holder:
        _fill(holder, 1)  # holds the lock until this block ends
        with pytest.raises(Busy), fresh_db.session_scope() as waiter:
            _fill(waiter, 1)
    with fresh_db.session_scope(readonly=True) as session:
        assert service.size(session) == 1  # the holder's entry; the refused one is gone
    with fresh_db.session_scope() as session:  # the lock is free again: appends go on
        _fill(session, 1)
        assert session.execute(text("SHOW lock_timeout")).scalar() != "300ms"
