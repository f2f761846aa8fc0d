from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, UploadFile

from citybase.core.errors import InvalidInput
from citybase.core.values import INT64_MAX
from citybase.core.web.deps import DbSession
from citybase.core.web.params import Offset
from citybase.data.catalog import service
from citybase.data.catalog.auth import CatalogEditor, CatalogReader
from citybase.data.catalog.schemas import (
    BaseLibrary,
    ImportReport,
    OpenType,
    ResourceCreate,
    ResourceFilter,
    ResourcePage,
    ResourceRead,
    ResourceUpdate,
    ShareType,
    Status,
    Transition,
    VersionDiff,
    VersionRead,
)

router = APIRouter(prefix="/api/v1/catalog", tags=["data catalog"])


@router.get("/resources")
def list_resources(
    session: DbSession,
    principal: CatalogReader,
    q: str = "",
    unit: str | None = None,
    region: Annotated[
        str | None, Query(description="A region's catalog, with its sub-regions'")
    ] = None,
    subregions: bool = True,
    status: Status | None = None,
    share_type: ShareType | None = None,
    open_type: OpenType | None = None,
    base: BaseLibrary | None = None,
    theme: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> ResourcePage:
    flt = ResourceFilter(
        q=q, unit=unit, region=region, subregions=subregions, status=status,
        share_type=share_type, open_type=open_type, base=base, theme=theme, limit=limit,
        offset=offset,
    )  # fmt: skip
    return service.get_accessible_resources(session, principal, flt)


@router.post("/resources", status_code=201)
def create_resource(
    session: DbSession, principal: CatalogEditor, data: ResourceCreate
) -> ResourceRead:
    """Register a resource as a draft of one's own unit."""
    return service.create_resource(session, principal, data)


@router.post("/import")
def import_resources(
    session: DbSession, principal: CatalogEditor, file: UploadFile, dry_run: bool = False
) -> ImportReport:
    """Register many resources as drafts from XLSX or CSV. Any bad row: nothing is registered
    (HTTP 422), and the error lists every row and cell at fault."""
    report = service.import_resources(
        session, principal, file.filename or "", file.file.read(), dry_run=dry_run
    )
    if report.problems:
        first = report.problems[0]
        raise InvalidInput(
            f"row {first.row}, {first.column}: {first.message} ({len(report.problems)} problem(s);"
            " nothing was registered)",
            field="file",
            problems=[p.model_dump() for p in report.problems],
        )
    return report


@router.get("/resources/{code}/versions")
def versions(session: DbSession, principal: CatalogReader, code: str) -> list[VersionRead]:
    return service.versions(session, principal, code)


@router.get("/resources/{code}/diff")
def diff(
    session: DbSession,
    principal: CatalogReader,
    code: str,
    from_version: Annotated[int, Query(alias="from", ge=1, le=INT64_MAX)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=INT64_MAX)],
) -> VersionDiff:
    return service.diff(session, principal, code, from_version, to_version)


@router.post("/resources/{code}/{action}")
def act(
    session: DbSession,
    principal: CatalogReader,
    code: str,
    action: Annotated[str, "submit, approve, return, register, publish or revise"],
    data: Transition | None = None,
) -> ResourceRead:
    """Move a resource along draft → submitted → reviewed → registered → published.

    ``submit`` and ``revise`` are for the provider unit; ``approve``, ``return`` (with a reason),
    ``register`` and ``publish`` for a data steward of another unit."""
    return service.transition(session, principal, code, action, data or Transition())


@router.get("/resources/{code}")
def get_resource(session: DbSession, principal: CatalogReader, code: str) -> ResourceRead:
    return service.get_accessible_resource(session, principal, code)


@router.patch("/resources/{code}")
def update_resource(
    session: DbSession, principal: CatalogEditor, code: str, data: ResourceUpdate
) -> ResourceRead:
    return service.update_resource(session, principal, code, data)
