"""Console pages: the catalog's review report, one resource's review, the data elements."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Principal
from citybase.core.web.deps import DbSession
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.templating import NavEntry, Panel, console
from citybase.data.catalog.auth import CATALOG_READ, CatalogReader
from citybase.data.catalog.schemas import ResourceRead
from citybase.data.review import service

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Data", "Normative review", "/console/review", CATALOG_READ, order=15))
console.add_page(
    NavEntry("Data", "Data elements", "/console/review/elements", CATALOG_READ, order=16)
)
add_translations(
    "zh",
    {
        "Normative review": "规范性审查",
        "Data elements": "数据元",
        "Errors": "错误",
        "Warnings": "提示",
        "Resources": "资源数",
        "Resources with errors": "有错误的资源",
        "Rule": "规则",
        "Severity": "级别",
        "Message": "说明",
        "No issues.": "没有问题。",
        "Check": "校验",
        "rule.completeness": "元数据完整性",
        "rule.code_format": "代码格式",
        "rule.data_element": "数据元一致性",
        "severity.error": "错误",
        "severity.warning": "提示",
        "A resource with errors cannot be approved.": "存在错误的资源不能审核通过。",
    },
)
add_translations(
    "en",
    {f"rule.{r}": r.replace("_", " ") for r in ("completeness", "code_format", "data_element")}
    | {"severity.error": "error", "severity.warning": "warning"},
)


@router.get("/console/review")
def catalog_page(request: Request, session: DbSession, principal: CatalogReader) -> Response:
    return console.render(
        request, "review/catalog.html", {"report": service.review_catalog(session, principal)}
    )


@router.get("/console/review/elements")
def elements_page(request: Request, _: CatalogReader) -> Response:
    return console.render(request, "review/elements.html", {"elements": service.elements()})


@router.get("/console/review/{code}")
def resource_page(
    request: Request, session: DbSession, principal: CatalogReader, code: str
) -> Response:
    return console.render(
        request,
        "review/resource.html",
        {"review": service.review_resource(session, principal, code)},
    )


def _panel(session: Session, principal: Principal, resource: ResourceRead) -> Panel | None:
    review = service.review_resource(session, principal, resource.code)
    return Panel("Normative review", "review/_panel.html", {"review": review},
                 link=f"/console/review/{resource.code}")  # fmt: skip


console.add_panel("catalog.resource", 20, _panel)

# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"the normative review found (.+?) error\(s\); first: (.+?): (.+?)": "规范性审查发现 {0} 处错误；第一处：{1}：{2}",
})  # fmt: skip
