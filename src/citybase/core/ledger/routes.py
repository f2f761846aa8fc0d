from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from citybase.core.ledger import service
from citybase.core.ledger.auth import LedgerReader, check_entry_visible, scoped_filter
from citybase.core.ledger.schemas import (
    ConsistencyProof,
    EntryWithProof,
    LedgerFilter,
    SignedTreeHead,
)
from citybase.core.values import INT64_MAX
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.params import Index, Offset, QueryTime

router = APIRouter(prefix="/api/v1/ledger", tags=["ledger"])


@router.get("/entries")
def list_entries(
    session: DbSession,
    principal: LedgerReader,
    actor: str | None = None,
    unit: str | None = None,
    action: Annotated[
        str | None, Query(description="An action or its prefix: login, user.")
    ] = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: QueryTime = None,
    until: QueryTime = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> dict[str, object]:
    flt = LedgerFilter(
        actor=actor, unit=unit, action=action, object_type=object_type, object_id=object_id,
        since=since, until=until, limit=limit, offset=offset,
    )  # fmt: skip
    entries, total = service.find_entries(session, scoped_filter(principal, flt))
    return {"total": total, "entries": entries}


@router.get("/entries/{seq}")
def get_entry(
    session: DbSession,
    principal: LedgerReader,
    seq: Index,
    tree_size: Annotated[
        int | None, Query(ge=1, le=INT64_MAX, description="Prove against this size")
    ] = None,
) -> EntryWithProof:
    """One entry and its RFC 9162 inclusion proof in the tree of ``tree_size`` (default: now)."""
    entry = service.get_entry(session, seq)
    check_entry_visible(principal, entry)
    return service.entry_with_proof(session, seq, tree_size)


@router.get("/tree-head")
def tree_head(session: DbSession, settings: AppSettings, _: LedgerReader) -> SignedTreeHead:
    """The current tree head, signed with the platform's Ed25519 key."""
    return service.signed_tree_head(session, service.signer_for(settings))


@router.get("/consistency")
def consistency(
    session: DbSession,
    _: LedgerReader,
    first: Annotated[int, Query(ge=1, le=INT64_MAX)],
    second: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
) -> ConsistencyProof:
    """Proof that the tree of ``first`` entries is a prefix of the tree of ``second``."""
    return service.consistency_proof(session, first, second)
