from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, UploadFile

from citybase.core.errors import InvalidInput
from citybase.core.identity.service import actor_of
from citybase.core.orgs import service
from citybase.core.orgs.auth import OrgsReader, OrgsWriter
from citybase.core.orgs.schemas import (
    ImportReport,
    RegionCreate,
    RegionDetail,
    RegionLevel,
    RegionRead,
    RegionUpdate,
    UnitCreate,
    UnitRead,
    UnitUpdate,
)
from citybase.core.web.deps import DbSession

router = APIRouter(prefix="/api/v1", tags=["regions and units"])


@router.get("/regions")
def list_regions(
    session: DbSession,
    _: OrgsReader,
    level: RegionLevel | None = None,
    parent: Annotated[str | None, Query(description="Only the children of this region")] = None,
) -> list[RegionRead]:
    return service.list_regions(session, level=level, parent_code=parent)


@router.get("/regions/{code}")
def get_region(session: DbSession, _: OrgsReader, code: str) -> RegionDetail:
    return service.region_detail(session, code)


@router.post("/regions", status_code=201)
def create_region(session: DbSession, principal: OrgsWriter, data: RegionCreate) -> RegionRead:
    return service.create_region(session, actor_of(principal), data)


@router.patch("/regions/{code}")
def update_region(
    session: DbSession, principal: OrgsWriter, code: str, data: RegionUpdate
) -> RegionRead:
    return service.update_region(session, actor_of(principal), code, data)


@router.get("/units")
def list_units(
    session: DbSession,
    _: OrgsReader,
    region: str | None = None,
    subregions: Annotated[bool, Query(description="Include units of regions below")] = False,
    q: str = "",
    active: bool | None = None,
) -> list[UnitRead]:
    return service.list_units(
        session, region_code=region, include_subregions=subregions, search=q, active=active
    )


@router.get("/units/{code}")
def get_unit(session: DbSession, _: OrgsReader, code: str) -> UnitRead:
    return service.get_unit(session, code)


@router.post("/units", status_code=201)
def create_unit(session: DbSession, principal: OrgsWriter, data: UnitCreate) -> UnitRead:
    return service.create_unit(session, actor_of(principal), data)


@router.patch("/units/{code}")
def update_unit(session: DbSession, principal: OrgsWriter, code: str, data: UnitUpdate) -> UnitRead:
    return service.update_unit(session, actor_of(principal), code, data)


@router.post("/orgs/import")
async def import_orgs(
    session: DbSession,
    principal: OrgsWriter,
    file: UploadFile,
    dry_run: bool = False,
) -> list[ImportReport]:
    """Import regions and units from CSV or YAML. Any bad row: nothing is imported (HTTP 422)."""
    content = await file.read()
    reports = service.import_orgs(
        session, actor_of(principal), file.filename or "", content, dry_run=dry_run
    )
    if any(r.problems for r in reports):
        problems = [p.model_dump() for r in reports for p in r.problems]
        first = problems[0]
        raise InvalidInput(
            f"row {first['row']}, {first['field']}: {first['message']}"
            f" ({len(problems)} problem(s); nothing was imported)",
            field="file",
            problems=problems,
        )
    return reports
