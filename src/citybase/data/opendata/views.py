"""The public open-data portal (no sign-in) and the stewards' inbox of applications."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from rdflib import Graph
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError, NotFound
from citybase.core.identity.auth import OptionalPrincipal
from citybase.core.identity.schemas import Principal
from citybase.core.orgs import service as orgs
from citybase.core.web.access import Public
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import form_errors, read_form, undo
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.once import claim
from citybase.core.web.templating import NavEntry, Panel, console
from citybase.data.catalog.schemas import ResourceRead
from citybase.data.datastore import service as datastore
from citybase.data.datastore.schemas import RowQuery
from citybase.data.opendata import dcat, service
from citybase.data.opendata.auth import OPEN_DECIDE, OpenDecider
from citybase.data.opendata.ckan import base_url
from citybase.data.opendata.schemas import ApplicationCreate, ApplicationDecision
from citybase.data.search import service as search
from citybase.data.search.schemas import SearchQuery

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Data", "Open data portal", "/open", None, order=30))
console.add_page(
    NavEntry("Data", "Open data applications", "/console/open/applications", OPEN_DECIDE, order=31)
)
add_translations(
    "zh",
    {
        "Open data portal": "公共数据开放平台",
        "Open data applications": "开放申请审核",
        "Open datasets": "开放数据集",
        "Download": "下载",
        "Apply to use": "申请使用",
        "Preview": "数据预览",
        "Machine-readable catalog": "机器可读目录",
        "Licence": "开放利用协议",
        "Applicant": "申请人",
        "Organisation": "单位名称",
        "Unified social credit code": "统一社会信用代码",
        "E-mail": "电子邮箱",
        "Telephone": "联系电话",
        "Purpose": "申请用途",
        "Scenario": "应用场景",
        "Days wanted": "使用期限（天）",
        "Submit the application": "提交申请",
        "Application received": "申请已受理",
        "Application number": "申请编号",
        "Token": "查询凭证",
        "Keep the number and the token: the token is shown only now. With both you follow the application and, once approved, download the data.": "请妥善保存申请编号和查询凭证：凭证仅显示这一次。凭二者可查询进度，获批后下载数据。",
        "Follow an application": "申请进度查询",
        "This application was received already; its token was shown when it was first sent.": "该申请已受理；凭证已在首次提交时显示。",
        "Follow": "查询",
        "Valid until": "有效期至",
        "Downloads": "下载次数",
        "Approve": "通过",
        "Refuse": "不同意",
        "Days granted (fewer than asked, if so decided)": "批准期限（天，可少于申请期限）",
        "No applications.": "暂无申请。",
        "app.pending": "待审核", "app.approved": "已同意", "app.refused": "未同意",
        "app.withdrawn": "已撤回",
        "This dataset is open on conditions: apply to use it.": "本数据集为有条件开放：请申请使用。",
        "Rows": "行数",
        "Updated": "更新时间",
        "Search open data": "搜索开放数据",
        "Only the provider's data stewards see applications for its data.": "仅提供单位的数据管理员可查看其数据的开放申请。",
        "Conditions": "开放条件",
        "Withdraw": "撤回",
        "The data in this portal is open for anyone to use, share and build on, citing the providing unit and the portal; it may not be used against law, to identify people, or to mislead. Conditionally open data is used only for the purpose and time approved.": "本平台开放的数据，任何人均可使用、传播和开发利用，须注明数据提供单位和来源平台；不得违法使用、不得用于识别特定个人、不得误导公众。有条件开放数据仅限于批准的用途和期限内使用。",
    },
)  # fmt: skip
add_translations("zh", {
    "not an e-mail address": "不是有效的电子邮箱地址",
    "not a telephone number": "不是有效的电话号码",
    "not a valid unified social credit code (check character)": "统一社会信用代码无效（校验位不符）",
    "say why the application is refused": "请说明不予批准的理由",
    "this download needs an approved application and its token": "下载需要已批准的申请及其查询凭证",
})  # fmt: skip
add_patterns("zh", {
    r"no application (\S+) with this token": "未找到与该凭证相符的申请 {0}",
    r"no application (\S+)": "未找到申请 {0}",
    r"no open dataset (\S+)": "未找到开放数据集 {0}",
    r"application (\S+) is already (\w+)": "申请 {0} 已处于“{1}”状态",
    r"application (\S+) expired on (\S+)": "申请 {0} 已于 {1} 到期",
    r"application (\S+) is for another dataset": "申请 {0} 针对的是另一个数据集",
    r"application (\S+) is (\w+)": "申请 {0} 处于“{1}”状态",
    r"the applicant asked for (\d+) days; grant that or fewer": "申请人申请了 {0} 天，批准天数不得超过此数",
    r"(\S+) is open without conditions: download it directly": "{0} 为无条件开放，可直接下载",
    r"(\S+) has no rows to download": "{0} 暂无可下载的数据",
})  # fmt: skip
add_translations("en", {f"app.{s}": s for s in ("pending", "approved", "refused", "withdrawn")})


# the portal's facets, with the prefix of their values' translation keys
PORTAL_FACETS = [("open_type", "open."), ("unit", ""), ("theme", ""), ("base", "base."),
                 ("format", "format.")]  # fmt: skip


@router.get("/open")
def portal(request: Request, session: DbSession, _: Public, who: OptionalPrincipal) -> Response:
    suffix = dcat.negotiate(request.headers.get("accept", ""))
    if suffix is not None:  # the catalog's home page, asked for as RDF: the catalog itself
        return RedirectResponse(f"/catalog.{suffix}", status_code=303, headers={"Vary": "Accept"})
    params = {k: v for k, v in request.query_params.items() if v}
    page_text = params.pop("page", "1")
    page = max(int(page_text), 1) if page_text.isdigit() else 1
    try:
        query = SearchQuery.model_validate(params | {"limit": 20, "offset": (page - 1) * 20})
    except ValidationError:
        query = SearchQuery()
    result = search.search_open(session, query)
    chosen = {k: v for k, v in query.model_dump(mode="json").items()
              if k in ("q", "unit", "theme", "base", "open_type", "format") and v}  # fmt: skip

    def with_(**changes: Any) -> str:
        values = {**chosen, **changes}
        return "?" + urlencode({k: v for k, v in values.items() if v not in (None, "")})

    return console.render(
        request, "opendata/portal.html",
        {"query": query, "result": result, "page": page, "with_": with_, "facets": PORTAL_FACETS,
         "pages": max((result.total + 19) // 20, 1)},
    )  # fmt: skip


def _rdf(graph: Graph, suffix: str) -> Response:
    name, media_type = dcat.FORMATS[suffix]
    return Response(dcat.serialize(graph, name), media_type=media_type, headers={"Vary": "Accept"})


@router.get("/open/licence")
def licence(request: Request, settings: AppSettings, _: Public, who: OptionalPrincipal) -> Response:
    """The licence: its text for a browser, a ``dct:LicenseDocument`` by content negotiation."""
    suffix = dcat.negotiate(request.headers.get("accept", ""))
    if suffix is not None:
        uris = dcat.Uris(base_url(request, settings.web.public_url))
        return _rdf(dcat.licence_graph(uris), suffix)
    return console.render(request, "opendata/licence.html")


@router.get("/open/applications/follow")
def follow_page(request: Request, _: Public, who: OptionalPrincipal) -> Response:
    # ?number=…&sent=1: where an application form sent twice lands (its token was shown once)
    number = request.query_params.get("number", "")[:40]
    return console.render(request, "opendata/follow.html", {
        "application": None, "errors": {}, "number": number,
        "sent": bool(number and request.query_params.get("sent"))})  # fmt: skip


@router.post("/open/applications/follow")
async def follow_submit(
    request: Request, session: DbSession, _: Public, who: OptionalPrincipal
) -> Response:
    form = await read_form(request)
    number, token = str(form.get("number", "")).strip(), str(form.get("token", "")).strip()
    try:
        if form.get("withdraw"):
            service.withdraw(session, number, token)
        application = service.follow(session, number, token)
    except CitybaseError as exc:
        undo(session)
        return console.render(
            request, "opendata/follow.html", {"application": None, "errors": form_errors(exc)}, 404
        )
    return console.render(
        request, "opendata/follow.html",
        {"application": application, "number": number, "token": token, "errors": {},
         "formats": list(service.FORMATS)},
    )  # fmt: skip


@router.get("/open/{code}")
def dataset_page(
    request: Request, session: DbSession, settings: AppSettings, code: str, _: Public,
    who: OptionalPrincipal,
) -> Response:  # fmt: skip
    ds = service.dataset(session, code, base_url(request, settings.web.public_url))
    suffix = dcat.negotiate(request.headers.get("accept", ""))
    if suffix is not None:  # the dataset's URI: DCAT-AP by content negotiation
        uris = dcat.Uris(base_url(request, settings.web.public_url),
                         orgs.region_names(session, [ds.region_code]))  # fmt: skip
        return _rdf(dcat.dataset_graph(ds, uris), suffix)
    preview = None
    if ds.open_type == "unconditional" and ds.row_count:
        preview = datastore.query(session, code, RowQuery(limit=10))
    return console.render(request, "opendata/dataset.html", {"ds": ds, "preview": preview})


@router.get("/open/{code}/apply")
def apply_page(
    request: Request, session: DbSession, code: str, _: Public, who: OptionalPrincipal
) -> Response:
    ds = service.dataset(session, code)
    if ds.open_type != "conditional":  # open without conditions: nothing to apply for
        return RedirectResponse(f"/open/{code}", status_code=303)
    return console.render(
        request, "opendata/apply.html", {"ds": ds, "values": {"days": 90}, "errors": {}}
    )


@router.post("/open/{code}/apply")
async def apply_submit(
    request: Request, session: DbSession, code: str, _: Public, who: OptionalPrincipal
) -> Response:
    ds = service.dataset(session, code)
    values = await read_form(request)
    try:
        once = await claim(request, session)
        receipt = service.apply(session, code, ApplicationCreate.model_validate(values))
        # the token is shown once, by this answer: the same form sent again finds the number
        once.done(session, f"/open/applications/follow?number={receipt.number}&sent=1")
    except (CitybaseError, ValidationError) as exc:
        undo(session)
        return console.render(
            request, "opendata/apply.html",
            {"ds": ds, "values": values, "errors": form_errors(exc)}, 422,
        )  # fmt: skip
    return console.render(request, "opendata/receipt.html", {"ds": ds, "receipt": receipt}, 201)


# --- the stewards' inbox -----------------------------------------------------------------------


@router.get("/console/open/applications")
def inbox_page(request: Request, session: DbSession, principal: OpenDecider) -> Response:
    status = request.query_params.get("status") or None
    return console.render(
        request, "opendata/inbox.html",
        {"applications": service.inbox(session, principal, status), "status": status,
         "errors": {}},
    )  # fmt: skip


@router.post("/console/open/applications/{number}")
async def decide_submit(
    request: Request, session: DbSession, principal: OpenDecider, number: str
) -> Response:
    form = await read_form(request)
    try:
        days = str(form.get("days") or "").strip()
        decision = ApplicationDecision(
            approve=form.get("decision") == "approve", reason=str(form.get("reason", "")),
            days=int(days) if days.isdigit() else None,
        )  # fmt: skip
        service.decide(session, principal, number, decision)
    except (CitybaseError, ValidationError) as exc:
        undo(session)
        if isinstance(exc, NotFound):
            raise
        return console.render(
            request, "opendata/inbox.html",
            {"applications": service.inbox(session, principal), "status": None,
             "errors": form_errors(exc), "failed": number},
            exc.status_code if isinstance(exc, CitybaseError) else 422,
        )  # fmt: skip
    return console.render(
        request, "opendata/inbox.html",
        {"applications": service.inbox(session, principal), "status": None, "errors": {},
         "decided": number},
    )  # fmt: skip


def _panel(session: Session, principal: Principal, resource: ResourceRead) -> Panel | None:
    if not service.is_open(resource):
        return None
    pending = service.pending_counts(session).get(resource.provider_unit_code, 0)
    return Panel("Open data portal", "opendata/_panel.html",
                 {"code": resource.code, "open_type": resource.open_type.value,
                  "pending": pending}, link=f"/open/{resource.code}")  # fmt: skip


console.add_panel("catalog.resource", 50, _panel)
