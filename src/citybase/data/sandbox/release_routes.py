"""The API of de-identified micro-data releases, under /api/v1/sandbox/releases."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from citybase.core.web.deps import AppSettings, DbSession, traced_read
from citybase.core.web.params import Id
from citybase.data.masking import operators as ops
from citybase.data.sandbox import release as service
from citybase.data.sandbox.auth import SandboxAnalyst, SandboxSteward
from citybase.data.sandbox.release_schemas import ReleaseCreate, ReleaseRead, Review

router = APIRouter(prefix="/api/v1/sandbox/releases", tags=["privacy sandbox"])


@router.get("")
def list_releases(
    session: DbSession, settings: AppSettings, principal: SandboxAnalyst
) -> list[ReleaseRead]:
    """Releases one may see: those published to one's unit or to every unit; a steward also
    their unit's; the bureau every one."""
    return service.get_accessible_releases(session, principal, settings.products)


@router.post("", status_code=201, response_model=ReleaseRead)
def prepare(
    session: DbSession, settings: AppSettings, principal: SandboxSteward, data: ReleaseCreate
) -> Response:
    """Prepare a release of one's unit's resource. A release that does not reach its k (or l)
    is kept as refused and answered in the error format with ``details.rule`` and
    ``details.release``."""
    prepared, refused = service.prepare_release(
        session, principal, data, ops.keys_for(settings.masking_key)
    )
    if refused is not None:
        body = refused.to_dict()
        body.setdefault("details", {})["release"] = prepared.id
        return JSONResponse({"error": body}, status_code=refused.status_code)
    return JSONResponse(prepared.model_dump(mode="json"), status_code=201)


@router.get("/{release_id}")
def read_release(
    session: DbSession, settings: AppSettings, principal: SandboxAnalyst, release_id: Id
) -> ReleaseRead:
    return service.get_accessible_release(session, principal, settings.products, release_id)


@router.post("/{release_id}/review")
def review(
    session: DbSession, settings: AppSettings, principal: SandboxSteward, release_id: Id,
    data: Review,
) -> ReleaseRead:  # fmt: skip
    """Approve or reject a prepared release: another steward of the providing unit, or the
    bureau; never its preparer."""
    return service.review_release(session, principal, settings.products, release_id, data)


@router.post("/{release_id}/publish")
def publish(
    session: DbSession, settings: AppSettings, principal: SandboxSteward, release_id: Id
) -> ReleaseRead:
    return service.publish_release(session, principal, settings.products, release_id)


@router.get(
    "/{release_id}/file",
    responses={200: {"content": {"text/csv": {}}, "description": "The released file"}},
)
@traced_read  # each download is on the ledger
def download(
    session: DbSession, settings: AppSettings, principal: SandboxAnalyst, release_id: Id
) -> Response:
    """The released file as CSV: for the units it was published to, and its reviewers."""
    body, name = service.download_release(session, principal, settings.products, release_id)
    return Response(
        body, media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )  # fmt: skip
