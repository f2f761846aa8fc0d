from __future__ import annotations

from fastapi import APIRouter

from citybase.core.web.deps import DbSession
from citybase.data.catalog.auth import CatalogReader
from citybase.data.review import service
from citybase.data.review.schemas import CatalogReview, DataElement, ResourceReview

router = APIRouter(prefix="/api/v1/review", tags=["normative review"])


@router.get("/elements")
def elements(_: CatalogReader) -> list[DataElement]:
    """The data element registry (数据元)."""
    return service.elements()


@router.get("/catalog")
def review_catalog(session: DbSession, principal: CatalogReader) -> CatalogReview:
    """The normative review of every resource the caller may see."""
    return service.review_catalog(session, principal)


@router.get("/resources/{code}")
def review_resource(session: DbSession, principal: CatalogReader, code: str) -> ResourceReview:
    return service.review_resource(session, principal, code)
