"""Console page: the register of sources, its conflicts with their arbitration, and overlaps."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError
from citybase.core.identity.schemas import Principal
from citybase.core.orgs import service as orgs
from citybase.core.web.deps import DbSession
from citybase.core.web.forms import SubmittedForm, form_errors, undo
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.once import FormOnce, FormToken, claim
from citybase.core.web.params import Id
from citybase.core.web.templating import NavEntry, Panel, console
from citybase.data.catalog.auth import CATALOG_READ, CatalogReader
from citybase.data.catalog.schemas import ResourceRead
from citybase.data.sources import service
from citybase.data.sources.auth import SOURCES_MANAGE, SourcesManager
from citybase.data.sources.schemas import Arbitration, ConflictDecision, SourceCreate

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(
    NavEntry("Data", "One data, one source", "/console/sources", CATALOG_READ, order=17)
)
add_translations(
    "zh",
    {
        "One data, one source": "一数一源",
        "Register of authoritative sources": "权威数据源登记",
        "Kind of data": "数据类别",
        "Authoritative unit": "权威来源单位",
        "Legal basis": "依据",
        "Conflicts": "冲突",
        "Provided by": "提供单位",
        "Proposed source": "建议来源",
        "Settle": "裁定",
        "Settled": "已裁定",
        "Undecided": "待裁定",
        "Decision": "裁定结果",
        "Overlaps the register does not cover": "登记未覆盖的重复提供",
        "Add or change a source": "新增或变更数据源",
        "Data elements or item names (commas)": "数据元或信息项名称（逗号分隔）",
        "Detect now": "立即检测",
        "No conflicts.": "没有冲突。",
        "decision.use_authoritative": "改用权威来源",
        "decision.exempt": "保留（业务自采）",
        "decision.change_authority": "改定其为权威来源",
    },
)
add_translations("en", {f"decision.{a.value}": a.value.replace("_", " ") for a in Arbitration})


def _page(request: Request, session: DbSession, principal: CatalogReader, errors: dict[str, str] | None = None, status: int = 200) -> Response:  # fmt: skip
    return console.render(
        request,
        "sources/index.html",
        {
            "sources": service.list_sources(session),
            "conflicts": service.list_conflicts(session),
            "overlaps": service.overlaps(session),
            "units": orgs.list_units(session),
            "decisions": [a.value for a in Arbitration],
            "can_manage": principal.can(SOURCES_MANAGE),
            "errors": errors or {},
        },
        status,
    )


@router.get("/console/sources")
def index(request: Request, session: DbSession, principal: CatalogReader) -> Response:
    return _page(request, session, principal)


@router.post("/console/sources")
def register(
    request: Request, session: DbSession, principal: SourcesManager, values: SubmittedForm,
    token: FormToken,
) -> Response:  # fmt: skip
    try:
        once = claim(request, session, token)
        elements = [
            e.strip()
            for e in str(values.get("elements", "")).replace("，", ",").split(",")
            if e.strip()
        ]
        service.register_source(
            session, principal, SourceCreate.model_validate({**values, "elements": elements})
        )
    except (ValidationError, CitybaseError) as exc:
        undo(session)
        return _page(request, session, principal, form_errors(exc), 422)
    return once.redirect(session, "/console/sources?saved=1")


@router.post("/console/sources/detect")
def detect(request: Request, session: DbSession, _: SourcesManager, once: FormOnce) -> Response:
    service.detect_all(session)
    return once.redirect(session, "/console/sources?saved=1")


@router.post("/console/sources/conflicts/{conflict_id}")
def arbitrate(
    request: Request, session: DbSession, principal: SourcesManager, conflict_id: Id, once: FormOnce,
    values: SubmittedForm,
) -> Response:  # fmt: skip
    try:
        service.arbitrate(session, principal, conflict_id, ConflictDecision.model_validate(values))
    except (ValidationError, CitybaseError) as exc:
        undo(session)
        return _page(request, session, principal, form_errors(exc), 422)
    return once.redirect(session, "/console/sources?saved=1")


def _panel(session: Session, principal: Principal, resource: ResourceRead) -> Panel | None:
    conflicts = [c for c in service.list_conflicts(session) if c.resource_code == resource.code]
    if not conflicts:
        return None
    names = orgs.unit_names(session, {c.authoritative_unit_code for c in conflicts})
    return Panel("One data, one source", "sources/_panel.html",
                 {"conflicts": conflicts, "names": names}, link="/console/sources")  # fmt: skip


console.add_panel("catalog.resource", 30, _panel)

# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"conflict (.+?) was already settled": "冲突 {0} 已处理",
    r"no conflict (.+?)": "未找到冲突 {0}",
})  # fmt: skip
