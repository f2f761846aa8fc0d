"""The sandbox's API, under /api/v1/sandbox: declarations, grants of privacy budget, queries."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.params import Id
from citybase.data.masking import operators as ops
from citybase.data.sandbox import answers, service
from citybase.data.sandbox.auth import SandboxAnalyst, SandboxSteward
from citybase.data.sandbox.schemas import (
    DeclarationCreate,
    DeclarationRead,
    GrantCreate,
    GrantRead,
    QueryCreate,
    QueryRead,
    Revocation,
    ShareAnswer,
    ShareAnswerRead,
)

router = APIRouter(prefix="/api/v1/sandbox", tags=["privacy sandbox"])


@router.get("/declarations")
def list_declarations(session: DbSession, principal: SandboxAnalyst) -> list[DeclarationRead]:
    """The resources one may query, with their declared columns, keys and bounds."""
    return service.list_declarations(session)


@router.get("/declarations/{code}")
def read_declaration(session: DbSession, principal: SandboxAnalyst, code: str) -> DeclarationRead:
    return service.get_declaration(session, code)


@router.put("/declarations/{code}")
def declare(
    session: DbSession, principal: SandboxSteward, code: str, data: DeclarationCreate
) -> DeclarationRead:
    """The providing unit's steward makes a resource available (or changes how)."""
    return service.declare_resource(session, principal, code, data)


@router.get("/grants")
def list_grants(
    session: DbSession, settings: AppSettings, principal: SandboxAnalyst
) -> list[GrantRead]:
    """One's unit's grants with what is left this period (a steward: also those on the unit's
    resources; the bureau: all)."""
    return service.get_accessible_grants(session, principal, settings.products)


@router.post("/grants", status_code=201)
def grant(
    session: DbSession, settings: AppSettings, principal: SandboxSteward, data: GrantCreate
) -> GrantRead:
    return service.grant_budget(session, principal, settings.products, data)


@router.post("/grants/{grant_id}/revoke")
def revoke(
    session: DbSession, settings: AppSettings, principal: SandboxSteward, grant_id: Id,
    data: Revocation,
) -> GrantRead:  # fmt: skip
    return service.revoke_grant(session, principal, settings.products, grant_id, data)


@router.post("/share-requests/{number}/answer")
def answer_share_request(
    session: DbSession, settings: AppSettings, principal: SandboxSteward, number: str,
    data: ShareAnswer,
) -> ShareAnswerRead:  # fmt: skip
    """Answer a share request for data graded too high to share as rows by a sandbox grant to
    the requesting unit (以沙箱方式答复): the providing unit's steward, on a declared resource."""
    return answers.answer_share_request(session, principal, settings.products, number, data)


@router.post("/queries", response_model=QueryRead)
def ask(
    session: DbSession, settings: AppSettings, principal: SandboxAnalyst, data: QueryCreate
) -> Response:
    """Ask a query (``sql`` or structured ``query``) spending ``epsilon`` of one's grant. A
    refusal is answered in the error format with ``details.rule`` and ``details.query`` — and
    returned, not raised, so that the attempt stays kept and on the ledger."""
    asked, refused = service.ask_query(session, principal, data, ops.keys_for(settings.masking_key))
    if refused is not None:
        body = refused.to_dict()
        body.setdefault("details", {})["query"] = asked.id
        return JSONResponse({"error": body}, status_code=refused.status_code)
    return JSONResponse(asked.model_dump(mode="json"))


@router.get("/queries")
def list_queries(
    session: DbSession, settings: AppSettings, principal: SandboxAnalyst
) -> list[QueryRead]:
    return service.get_accessible_queries(session, principal, settings.products)


@router.get("/queries/{query_id}")
def read_query(
    session: DbSession, settings: AppSettings, principal: SandboxAnalyst, query_id: Id
) -> QueryRead:
    return service.get_accessible_query(session, principal, settings.products, query_id)
