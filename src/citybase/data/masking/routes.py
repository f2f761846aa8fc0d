from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from citybase.core.web.deps import AppSettings, DbSession
from citybase.data.grading.schemas import Level
from citybase.data.masking import operators as ops
from citybase.data.masking import service
from citybase.data.masking.auth import MaskingReader, PolicyEditor, Revealer
from citybase.data.masking.schemas import (
    FieldKind,
    MaskPlan,
    PolicyChange,
    PolicyRow,
    Preview,
    RedactRequest,
    RedactResult,
    RevealRequest,
    RevealResult,
)

router = APIRouter(prefix="/api/v1/masking", tags=["data masking"])


@router.get("/policy")
def get_policy(session: DbSession, principal: MaskingReader) -> list[PolicyRow]:
    """The operator for every level and field kind, and which cells the bureau changed."""
    return service.policy_rows(session)


@router.put("/policy/{level}/{kind}")
def set_rule(
    session: DbSession, principal: PolicyEditor, level: Level, kind: FieldKind, data: PolicyChange
) -> PolicyRow:
    return service.set_rule(session, principal, level, kind, data)


@router.get("/plans/{code}")
def get_plan(session: DbSession, principal: MaskingReader, code: str) -> MaskPlan:
    """How the resource's fields are masked when it is shared."""
    return service.get_plan(session, principal, code)


@router.get("/plans/{code}/preview")
def preview(
    session: DbSession,
    settings: AppSettings,
    principal: MaskingReader,
    code: str,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Preview:
    """For the provider: the first rows as a grantee sees them, and the table's k-anonymity."""
    return service.preview(session, principal, code, ops.keys_for(settings.masking_key), limit)


@router.post("/redact")
def redact(principal: MaskingReader, data: RedactRequest) -> RedactResult:
    """Mask the personal data found in a free text (identifiers, names, addresses)."""
    return service.redact(data.text)


@router.post("/reveal")
def reveal(
    session: DbSession, settings: AppSettings, principal: Revealer, data: RevealRequest
) -> RevealResult:
    """The value behind a pseudonym, for a case (on the ledger)."""
    return RevealResult(
        value=service.reveal(session, principal, data, ops.keys_for(settings.masking_key))
    )
