from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from citybase.core.identity.auth import CurrentPrincipal
from citybase.core.web.deps import AppSettings, DbSession, traced_read
from citybase.core.web.params import Id, Offset
from citybase.data.datastore import service as datastore
from citybase.data.datastore.schemas import Direction, RowQuery
from citybase.data.masking import operators as ops
from citybase.data.sharing import access, demand, service
from citybase.data.sharing.auth import AccessViewer, Context, ShareDecider, ShareRequester
from citybase.data.sharing.schemas import (
    AccessFilter,
    AccessPage,
    AccessSummary,
    AnswerCreate,
    Decision,
    DemandCreate,
    DemandMatch,
    DemandRead,
    DemandStatus,
    GrantRead,
    RequestCreate,
    RequestRead,
    RequestStatus,
    Revocation,
    SharedPage,
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
    session: DbSession, principal: ShareDecider, grant_id: Id, data: Revocation
) -> GrantRead:
    return service.revoke(session, principal, grant_id, data)


# --- reads under a grant, and their log --------------------------------------------------------


def _refused(refused: access.Refused) -> JSONResponse:
    # returned, not raised: the request's transaction commits, and the refusal stays logged
    return JSONResponse({"error": refused.error().to_dict()}, status_code=refused.refusal.status)


@router.get("/resources/{code}/rows", response_model=SharedPage)
@traced_read
def read_rows(
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    ctx: Context,
    code: str,
    filters: Annotated[str, Query(description="Column equals value, as JSON")] = "",
    q: str = "",
    fields: Annotated[str, Query(description="Granted columns to return, comma-separated")] = "",
    sort: str | None = None,
    direction: Direction = Direction.asc,
    limit: Annotated[int, Query(ge=0, le=10_000)] = 100,
    offset: Offset = 0,
) -> Response:
    """Rows of another unit's resource, under the grant one's unit holds: only the granted
    fields, masked as the resource's level demands. Allowed or refused, the read is logged."""
    request = _row_query(filters, q, fields, sort, direction, limit, offset)
    result = access.read_rows(
        session, principal, code, ctx, request, ops.keys_for(settings.masking_key)
    )
    if isinstance(result, access.Refused):
        return _refused(result)
    return JSONResponse(result.page.model_dump(mode="json"))


@router.get("/resources/{code}/export.{fmt}")
@traced_read
def export(
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    ctx: Context,
    code: str,
    fmt: Literal["csv", "json"],
    filters: str = "",
    q: str = "",
    fields: str = "",
    limit: Annotated[int, Query(ge=1, le=access.EXPORT_MAX_ROWS)] = access.EXPORT_MAX_ROWS,
    offset: Offset = 0,
) -> Response:
    """A bulk export of the granted fields, masked, with the k-anonymity of the rows over their
    quasi-identifiers in the ``X-Citybase-K-Anonymity`` header."""
    request = _row_query(filters, q, fields, None, Direction.asc, 0, offset)
    result = access.read_rows(
        session, principal, code, ctx, request, ops.keys_for(settings.masking_key),
        operation="export", up_to=limit,
    )  # fmt: skip
    if isinstance(result, access.Refused):
        return _refused(result)
    page, k = result.page, result.k
    headers = {
        "X-Total-Count": str(page.total),
        "X-Citybase-Access": str(page.access_id),
        "X-Citybase-K-Anonymity": (
            f"k={k.k}; groups={k.groups}; below-{k.threshold}={k.below}; "
            f"quasi={quote(','.join(k.quasi_identifiers))}"
        ),
        "Content-Disposition": f'attachment; filename="{code}.{fmt}"',
    }
    columns = list(page.rows[0]) if page.rows else [f for f in request.fields]
    if fmt == "csv":
        return Response(access.to_csv(columns, page.rows), media_type="text/csv; charset=utf-8",
                        headers=headers)  # fmt: skip
    return Response(access.to_json(page.rows), media_type="application/json", headers=headers)


def _row_query(
    filters: str, q: str, fields: str, sort: str | None, direction: Direction, limit: int,
    offset: int,
) -> RowQuery:  # fmt: skip
    return RowQuery(
        filters=datastore.parse_filters(filters), q=q,
        fields=[f.strip() for f in fields.split(",") if f.strip()], sort=sort,
        direction=direction, limit=limit, offset=offset,
    )  # fmt: skip


@router.get("/accesses")
def find_accesses(
    session: DbSession,
    settings: AppSettings,
    principal: AccessViewer,
    flt: Annotated[AccessFilter, Query()],
) -> AccessPage:
    """Reads of shared data, allowed and refused. Units see reads of their own data and by
    themselves; an auditor sees all and can look up a data subject (``subject``: a citizen ID
    or credit code) to see whose data went where."""
    return access.find_accesses(session, principal, flt, ops.keys_for(settings.masking_key))


@router.get("/accesses/summary")
def access_summary(
    session: DbSession, principal: AccessViewer, side: Literal["provider", "consumer"] = "provider"
) -> list[AccessSummary]:
    """Reads grouped by resource and the unit on the other side."""
    return access.summary(session, principal, as_provider=side == "provider")


# --- the demand list ---------------------------------------------------------------------------


@router.get("/demands")
def list_demands(
    session: DbSession,
    principal: ShareRequester,
    status: DemandStatus | None = None,
    unit: str | None = None,
) -> list[DemandRead]:
    """The demand list (需求清单): every unit's posted needs, newest first."""
    return demand.list_demands(session, status, unit)


@router.post("/demands", status_code=201)
def post_demand(session: DbSession, principal: ShareRequester, data: DemandCreate) -> DemandRead:
    return demand.post(session, principal, data)


@router.get("/demands/{number}")
def get_demand(session: DbSession, principal: ShareRequester, number: str) -> DemandRead:
    return demand.get(session, number)


@router.post("/demands/{number}/answers")
def answer_demand(
    session: DbSession, principal: ShareDecider, number: str, data: AnswerCreate
) -> DemandRead:
    """A provider's answer: an offer of a resource, a plan to collect the data, or a no."""
    return demand.answer(session, principal, number, data)


@router.post("/demands/{number}/match", status_code=201)
def match_demand(
    session: DbSession, principal: ShareRequester, number: str, data: DemandMatch
) -> RequestRead:
    """Take an offer: it becomes a share request (供需对接)."""
    return demand.match(session, principal, number, data)


@router.post("/demands/{number}/close")
def close_demand(
    session: DbSession, principal: ShareRequester, number: str, data: Revocation
) -> DemandRead:
    return demand.close(session, principal, number, data.reason)
