"""Every query on the ledger's tables."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from citybase.core.errors import Busy
from citybase.core.ledger.models import LedgerEntry, LedgerNode, TreeHead
from citybase.core.ledger.schemas import LedgerFilter

# A fixed key for PostgreSQL's advisory lock that serialises appends across processes.
_APPEND_LOCK_KEY = 0x4C454447  # "LEDG"
# How long an append waits for that lock. Appends hold it for the rest of a request's transaction
# (milliseconds); a wait this long means a transaction that does not end, and the caller is told
# to retry rather than left waiting with it.
APPEND_LOCK_TIMEOUT = "15s"


def lock_for_append(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: writing sessions begin with BEGIN IMMEDIATE, which serialises writers
    session.execute(text(f"SET LOCAL lock_timeout = '{APPEND_LOCK_TIMEOUT}'"))
    try:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK_KEY})
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        raise Busy("the record of actions is busy: nothing was changed; send it again") from exc
    session.execute(text("SET LOCAL lock_timeout = DEFAULT"))


def last_entry(session: Session) -> tuple[int, bytes] | None:
    row = session.execute(
        select(LedgerEntry.seq, LedgerEntry.entry_hash).order_by(LedgerEntry.seq.desc()).limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def count(session: Session) -> int:
    last = last_entry(session)
    return 0 if last is None else last[0] + 1


def insert_entries(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    session.execute(insert(LedgerEntry), list(rows))


NODE_SHIFT = 48


def node_id(level: int, position: int) -> int:
    return level << NODE_SHIFT | position


def insert_nodes(session: Session, nodes: dict[tuple[int, int], bytes]) -> None:
    """Store nodes given as ``{(level, position): hash}``."""
    if nodes:
        session.execute(
            insert(LedgerNode),
            [{"node_id": node_id(lvl, pos), "hash": h} for (lvl, pos), h in nodes.items()],
        )


def leaf_hashes(session: Session, seqs: Iterable[int]) -> dict[int, bytes]:
    wanted = sorted(set(seqs))
    if not wanted:
        return {}
    rows = session.execute(
        select(LedgerEntry.seq, LedgerEntry.leaf_hash).where(
            LedgerEntry.seq.between(wanted[0], wanted[-1])
        )
        if wanted[-1] - wanted[0] < 64
        else select(LedgerEntry.seq, LedgerEntry.leaf_hash).where(LedgerEntry.seq.in_(wanted))
    )
    return {seq: leaf for seq, leaf in rows}


def node_hashes(session: Session, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    wanted = {node_id(level, position): (level, position) for level, position in keys}
    if not wanted:
        return {}
    rows = session.execute(
        select(LedgerNode.node_id, LedgerNode.hash).where(LedgerNode.node_id.in_(list(wanted)))
    )
    return {wanted[nid]: node for nid, node in rows}


def get_entry(session: Session, seq: int) -> LedgerEntry | None:
    return session.get(LedgerEntry, seq)


def find_entries(session: Session, flt: LedgerFilter) -> tuple[list[LedgerEntry], int]:
    query = select(LedgerEntry)
    if flt.actor:
        query = query.where(LedgerEntry.actor == flt.actor)
    if flt.unit:
        query = query.where(LedgerEntry.actor_unit == flt.unit)
    if flt.action:
        query = query.where(LedgerEntry.action.startswith(flt.action, autoescape=True))
    if flt.object_type:
        query = query.where(LedgerEntry.object_type == flt.object_type)
    if flt.object_id:
        query = query.where(LedgerEntry.object_id == flt.object_id)
    if flt.since:
        query = query.where(LedgerEntry.recorded_at >= flt.since)
    if flt.until:
        query = query.where(LedgerEntry.recorded_at < flt.until)
    if flt.seqs is not None:
        query = query.where(LedgerEntry.seq.in_(flt.seqs))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(LedgerEntry.seq.desc()).limit(flt.limit).offset(flt.offset)
    ).all()
    return list(rows), total


def iter_entries(session: Session, batch: int = 5000) -> Iterator[LedgerEntry]:
    after = -1
    while True:
        rows = session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.seq > after)
            .order_by(LedgerEntry.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].seq
        session.expunge_all()


def all_nodes(session: Session) -> dict[tuple[int, int], bytes]:
    rows = session.execute(select(LedgerNode.node_id, LedgerNode.hash))
    mask = (1 << NODE_SHIFT) - 1
    return {(nid >> NODE_SHIFT, nid & mask): node for nid, node in rows}


def tree_heads(session: Session) -> list[TreeHead]:
    return list(session.scalars(select(TreeHead).order_by(TreeHead.tree_size)))


def latest_tree_head(session: Session) -> TreeHead | None:
    return session.scalars(select(TreeHead).order_by(TreeHead.tree_size.desc()).limit(1)).first()


def add_tree_head(session: Session, head: TreeHead) -> None:
    session.add(head)
    session.flush()
