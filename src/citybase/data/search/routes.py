from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from citybase.core.web.deps import DbSession
from citybase.data.catalog.auth import CatalogReader
from citybase.data.search import service
from citybase.data.search.schemas import SearchQuery, SearchResult

router = APIRouter(prefix="/api/v1/search", tags=["data catalog"])


@router.get("")
def search(
    session: DbSession, principal: CatalogReader, query: Annotated[SearchQuery, Query()]
) -> SearchResult:
    """Full-text search (Chinese by character bigrams) over the resources one may see: names,
    data items, keywords and abstracts, ranked, with counts per facet value."""
    return service.search(session, principal, query)
