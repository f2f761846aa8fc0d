from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, UploadFile
from fastapi.responses import JSONResponse

from citybase.core.errors import InvalidInput
from citybase.core.identity.service import actor_of
from citybase.core.orgs import boundaries, service
from citybase.core.orgs.auth import OrgsReader, OrgsWriter
from citybase.core.orgs.boundaries import BoundaryRead, BoundaryWrite
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


@router.get("/regions/boundaries", response_class=JSONResponse)
def list_boundaries(
    session: DbSession,
    _: OrgsReader,
    level: RegionLevel | None = None,
    parent: Annotated[str | None, Query(description="Only the children of this region")] = None,
) -> JSONResponse:
    """The outlines of a level's (or a region's children's) regions: a GeoJSON FeatureCollection."""
    return _geojson(boundaries.collection(session, level=level, parent_code=parent))


@router.post("/regions/boundaries")
def import_boundaries(
    session: DbSession,
    principal: OrgsWriter,
    file: UploadFile,
    code_property: Annotated[str, Query(description="The property naming each feature's "
                                        "region (default: code, adcode or region_code)")] = "",
    source: Annotated[str, Query(max_length=200, description="Where the outlines come from")] = "",
    dry_run: bool = False,
) -> ImportReport:  # fmt: skip
    """Import outlines from a GeoJSON FeatureCollection. Any bad feature: nothing is imported
    (HTTP 422, every bad feature named by its number)."""
    report = boundaries.import_boundaries(
        session, actor_of(principal), file.file.read(), code_property=code_property,
        source=source, dry_run=dry_run,
    )  # fmt: skip
    if report.problems:
        problems = [p.model_dump() for p in report.problems]
        first = report.problems[0]
        raise InvalidInput(
            f"feature {first.row}, {first.field}: {first.message}"
            f" ({len(problems)} problem(s); nothing was imported)",
            field="file", problems=problems,
        )  # fmt: skip
    return report


@router.get("/regions/at")
def regions_at(
    session: DbSession,
    _: OrgsReader,
    lon: Annotated[float, Query(ge=-180, le=180, description="WGS84 longitude")],
    lat: Annotated[float, Query(ge=-90, le=90, description="WGS84 latitude")],
) -> list[RegionRead]:
    """The regions whose outlines hold the point, top down (empty where none is outlined)."""
    return boundaries.regions_at(session, lon, lat)


@router.get("/regions/{code}/boundary", response_class=JSONResponse)
def get_boundary(session: DbSession, _: OrgsReader, code: str) -> JSONResponse:
    """The region's outline as a GeoJSON Feature."""
    return _geojson(boundaries.feature(session, code))


@router.put("/regions/{code}/boundary")
def set_boundary(
    session: DbSession, principal: OrgsWriter, code: str, data: BoundaryWrite
) -> BoundaryRead:
    return boundaries.set_boundary(session, actor_of(principal), code, data)


@router.delete("/regions/{code}/boundary", status_code=204)
def remove_boundary(session: DbSession, principal: OrgsWriter, code: str) -> None:
    boundaries.remove_boundary(session, actor_of(principal), code)


def _geojson(value: dict[str, Any]) -> JSONResponse:
    return JSONResponse(value, media_type="application/geo+json")


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
def import_orgs(
    session: DbSession,
    principal: OrgsWriter,
    file: UploadFile,
    dry_run: bool = False,
) -> list[ImportReport]:
    """Import regions and units from CSV or YAML. Any bad row: nothing is imported (HTTP 422)."""
    content = file.file.read()
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
