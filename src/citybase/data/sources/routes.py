from __future__ import annotations

from fastapi import APIRouter

from citybase.core.web.deps import DbSession
from citybase.core.web.params import Id
from citybase.data.catalog.auth import CatalogReader
from citybase.data.sources import service
from citybase.data.sources.auth import SourcesManager
from citybase.data.sources.schemas import (
    ConflictDecision,
    ConflictRead,
    Overlap,
    SourceCreate,
    SourceRead,
)

router = APIRouter(prefix="/api/v1/sources", tags=["one data, one source"])


@router.get("")
def list_sources(session: DbSession, _: CatalogReader) -> list[SourceRead]:
    """The register: each kind of data and its authoritative unit."""
    return service.list_sources(session)


@router.post("", status_code=201)
def register_source(
    session: DbSession, principal: SourcesManager, data: SourceCreate
) -> SourceRead:
    """Name (or change) the authoritative source of a kind of data; conflicts are re-detected."""
    return service.register_source(session, principal, data)


@router.get("/conflicts")
def list_conflicts(
    session: DbSession, _: CatalogReader, status: str | None = None
) -> list[ConflictRead]:
    return service.list_conflicts(session, status)


@router.post("/conflicts/{conflict_id}/decision")
def arbitrate(
    session: DbSession, principal: SourcesManager, conflict_id: Id, data: ConflictDecision
) -> ConflictRead:
    return service.arbitrate(session, principal, conflict_id, data)


@router.post("/detect")
def detect(session: DbSession, _: SourcesManager) -> dict[str, int]:
    """Run detection over every registered and published resource now."""
    return {"open_conflicts": service.detect_all(session)}


@router.get("/overlaps")
def overlaps(session: DbSession, _: CatalogReader) -> list[Overlap]:
    """Data elements several units provide that the register does not cover yet."""
    return service.overlaps(session)
