"""Console page: search the catalog, narrowing by facets."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from citybase.core.web.deps import DbSession
from citybase.core.web.i18n import add_translations
from citybase.core.web.templating import NavEntry, console
from citybase.data.catalog.auth import CATALOG_READ, CatalogReader
from citybase.data.search import service
from citybase.data.search.schemas import FACETS, SearchQuery

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Data", "Catalog search", "/console/search", CATALOG_READ, order=9))

# facet → the prefix of its values' translation keys (the catalog's and grading's labels)
FACET_LABELS = {
    "share_type": "share.", "open_type": "open.", "format": "format.", "status": "status.",
    "base": "base.", "level": "level.",
}  # fmt: skip
add_translations(
    "zh",
    {
        "Catalog search": "目录检索",
        "Search names, data items, keywords and abstracts": "检索名称、信息项、关键词和摘要",
        "facet.unit": "提供单位", "facet.region": "区划", "facet.theme": "主题库",
        "facet.base": "基础库", "facet.level": "数据级别", "facet.share_type": "共享类型",
        "facet.open_type": "开放类型", "facet.format": "资源格式", "facet.status": "状态",
        "Relevance": "相关度", "Recently changed": "最近更新", "Clear": "清除",
        "{n} resources found": "共找到 {n} 个资源", "Sort": "排序",
    },
)  # fmt: skip
add_translations("en", {f"facet.{f}": f.replace("_", " ") for f in FACETS})


def page_links(query: SearchQuery) -> dict[str, Any]:
    """Links that add or drop one facet value, keeping the rest of the query."""
    current = {k: v for k, v in query.model_dump(mode="json").items() if v not in (None, "")}
    current.pop("offset", None)

    def with_(**changes: Any) -> str:
        values = {**current, **changes}
        return "?" + urlencode({k: v for k, v in values.items() if v not in (None, "")})

    return {"with_": with_}


@router.get("/console/search")
def search_page(request: Request, session: DbSession, principal: CatalogReader) -> Response:
    params = dict(request.query_params)
    page_text = params.pop("page", "1")
    page = max(int(page_text), 1) if page_text.isdigit() else 1
    try:
        query = SearchQuery.model_validate(
            {k: v for k, v in params.items() if v} | {"limit": 20, "offset": (page - 1) * 20}
        )
    except ValidationError:
        query = SearchQuery()
    result = service.search(session, principal, query)
    return console.render(
        request, "search/search.html",
        {"query": query, "result": result,
         "facets": [(f, FACET_LABELS.get(f, "")) for f in FACETS],
         "page": page, "pages": max((result.total + 19) // 20, 1), **page_links(query)},
    )  # fmt: skip
