from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from citybase.core.values import NonNegativeInt64

# counted facets (keyword filters too, but is not counted: keywords are many and varied)
FACETS = ("unit", "region", "theme", "base", "level", "share_type", "open_type", "format", "status")


class Sort(StrEnum):
    relevance = "relevance"
    updated = "updated"  # most recently changed first
    name = "name"


class SearchQuery(BaseModel):
    """A query and the facet values chosen; every chosen facet narrows the result."""

    q: str = Field("", max_length=200)
    unit: str | None = None
    region: str | None = Field(None, description="A region, with its sub-regions")
    theme: str | None = None
    base: str | None = None
    keyword: str | None = None
    level: str | None = None
    share_type: str | None = None
    open_type: str | None = None
    format: str | None = None
    status: str | None = None
    sort: Sort = Sort.relevance
    limit: int = Field(20, ge=1, le=1000)
    offset: NonNegativeInt64 = 0


class FacetValue(BaseModel):
    value: str
    count: int
    label: str = ""


class SearchHit(BaseModel):
    code: str
    name: str
    abstract: str
    unit_code: str
    unit_name: str
    region_code: str
    status: str
    level: str
    share_type: str
    open_type: str
    format: str
    themes: list[str]
    bases: list[str]
    version: int
    updated_at: datetime
    score: float


class SearchResult(BaseModel):
    total: int
    hits: list[SearchHit]
    facets: dict[str, list[FacetValue]]
