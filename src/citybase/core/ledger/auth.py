"""Who may read the ledger: everything (ledger:read) or only one's own unit (ledger:read_unit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.errors import NotFound
from citybase.core.identity import service as identity
from citybase.core.identity.auth import require_any
from citybase.core.identity.schemas import Principal
from citybase.core.ledger.schemas import LedgerEntryRead, LedgerFilter

LedgerReader = Annotated[
    Principal, Depends(require_any(identity.LEDGER_READ, identity.LEDGER_READ_UNIT))
]


def scoped_filter(principal: Principal, flt: LedgerFilter) -> LedgerFilter:
    """Limit a unit-scoped reader to entries made for their own unit."""
    if principal.can(identity.LEDGER_READ):
        return flt
    return flt.model_copy(update={"unit": principal.unit_code or "\x00"})


def check_entry_visible(principal: Principal, entry: LedgerEntryRead) -> None:
    if not principal.can(identity.LEDGER_READ) and entry.actor_unit != principal.unit_code:
        raise NotFound(f"no ledger entry {entry.seq}", field="seq")
