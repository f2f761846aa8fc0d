from __future__ import annotations

from fastapi import APIRouter

from citybase.core.web.deps import DbSession
from citybase.data.sharing import service
from citybase.data.sharing.auth import ShareDecider, ShareRequester
from citybase.data.sharing.schemas import (
    Decision,
    GrantRead,
    RequestCreate,
    RequestRead,
    RequestStatus,
    Revocation,
)

router = APIRouter(prefix="/api/v1/sharing", tags=["data sharing"])


@router.post("/requests", status_code=201)
def request_share(
    session: DbSession, principal: ShareRequester, data: RequestCreate
) -> RequestRead:
    """Request another unit's resource: granted at once when it is shared unconditionally,
    refused at once when it is not shared, otherwise waiting for the provider's steward."""
    return service.request_share(session, principal, data)


@router.get("/requests")
def list_requests(
    session: DbSession, principal: ShareRequester, status: RequestStatus | None = None
) -> list[RequestRead]:
    """Requests one's unit made or received."""
    return service.list_requests(session, principal, status)


@router.post("/requests/{number}/decision")
def decide(session: DbSession, principal: ShareDecider, number: str, data: Decision) -> RequestRead:
    return service.decide(session, principal, number, data)


@router.post("/requests/{number}/withdraw")
def withdraw(session: DbSession, principal: ShareRequester, number: str) -> RequestRead:
    return service.withdraw(session, principal, number)


@router.get("/grants")
def list_grants(
    session: DbSession, principal: ShareRequester, resource: str | None = None
) -> list[GrantRead]:
    """Grants one's unit gave or holds, in force, expired or revoked."""
    return service.list_grants(session, principal, resource)


@router.post("/grants/{grant_id}/revoke")
def revoke(
    session: DbSession, principal: ShareDecider, grant_id: int, data: Revocation
) -> GrantRead:
    return service.revoke(session, principal, grant_id, data)
