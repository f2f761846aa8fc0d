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
from citybase.core.net import OutboundPolicy
from citybase.core.orgs import service as orgs
from citybase.core.web.access import Public
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import RawForm, SubmittedForm, form_errors, undo
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.once import FormOnce, FormToken, claim
from citybase.core.web.templating import NavEntry, Panel, console
from citybase.data.catalog import service as catalog_service
from citybase.data.catalog.schemas import ResourceRead
from citybase.data.datastore import service as datastore
from citybase.data.datastore.schemas import RowQuery
from citybase.data.opendata import dcat, harvest, service
from citybase.data.opendata.auth import OPEN_DECIDE, OPEN_HARVEST, OpenDecider, OpenHarvester
from citybase.data.opendata.ckan import base_url
from citybase.data.opendata.schemas import (
    ApplicationCreate,
    ApplicationDecision,
    HarvestReport,
    HarvestSourceCreate,
)
from citybase.data.search import service as search
from citybase.data.search.schemas import SearchQuery

router = APIRouter(include_in_schema=False)
HARVEST_OUTCOMES = ("created", "updated", "unchanged", "kept", "refused")
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Data", "Open data portal", "/open", None, order=30))
console.add_page(
    NavEntry("Data", "Open data applications", "/console/open/applications", OPEN_DECIDE, order=31)
)
console.add_page(
    NavEntry("Data", "Catalog harvest", "/console/open/harvest", OPEN_HARVEST, order=32)
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
        "Catalog harvest": "外部目录采集",
        "Harvest a district's or a province's DCAT-AP catalog: each dataset becomes a draft of the unit below, to be described and submitted by it. A dataset harvested before updates its draft while it is still a draft.": "采集区县或省级的 DCAT-AP 数据目录：每个数据集登记为下列单位的草稿，由该单位完善后提交。已采集过的数据集在仍为草稿时随来源更新。",
        "Catalog file (Turtle, JSON-LD, RDF/XML)": "目录文件（Turtle、JSON-LD、RDF/XML）",
        "Into the drafts of": "登记为草稿的单位",
        "Classification code of the drafts": "草稿的分类码",
        "Check only, register nothing": "仅检查，不登记",
        "Harvest": "采集",
        "Harvest sources": "采集来源",
        "Source name": "来源名称",
        "Catalog address": "目录地址",
        "Add the source": "添加来源",
        "Harvest now": "立即采集",
        "Last harvested": "上次采集",
        "Never": "从未",
        "Recent harvests": "最近采集",
        "Datasets found": "发现数据集",
        "harvest.created": "新登记", "harvest.updated": "已更新", "harvest.unchanged": "无变化",
        "harvest.kept": "已过草稿阶段，未改动", "harvest.refused": "未能登记",
        "Data items to describe": "信息项待补充",
        "This was a check: nothing was registered.": "本次为检查：未登记任何数据。",
        "No harvests yet.": "尚无采集记录。",
        "Origin": "来源",
        "By": "操作人",
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
add_translations("en", {f"harvest.{s}": s for s in HARVEST_OUTCOMES})


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
def follow_submit(
    request: Request, session: DbSession, _: Public, who: OptionalPrincipal, form: SubmittedForm
) -> Response:
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
def apply_submit(
    request: Request, session: DbSession, code: str, _: Public, who: OptionalPrincipal,
    values: SubmittedForm, token: FormToken,
) -> Response:  # fmt: skip
    ds = service.dataset(session, code)
    try:
        once = claim(request, session, token)
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
def decide_submit(
    request: Request, session: DbSession, principal: OpenDecider, number: str, once: FormOnce,
    form: SubmittedForm,
) -> Response:  # fmt: skip
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
    once.done(session, "/console/open/applications")  # sent again: the inbox, decided once
    return console.render(
        request, "opendata/inbox.html",
        {"applications": service.inbox(session, principal), "status": None, "errors": {},
         "decided": number},
    )  # fmt: skip


# --- harvesting other catalogs -----------------------------------------------------------------


def _harvest_page(
    request: Request, session: Session, principal: Principal, *, report: HarvestReport | None = None,
    errors: dict[str, str] | None = None, values: dict[str, Any] | None = None, status: int = 200,
) -> Response:  # fmt: skip
    admin = catalog_service.audience(principal).everything
    units = orgs.list_units(session) if admin else [orgs.get_unit(session, principal.unit_code)]
    return console.render(
        request, "opendata/harvest.html",
        {"report": report, "errors": errors or {}, "outcomes": HARVEST_OUTCOMES,
         "values": values or {"unit_code": principal.unit_code}, "units": units,
         "sources": harvest.sources(session), "runs": harvest.runs(session, principal)[:20],
         "unit_names": orgs.unit_names(session, [u.code for u in units])},
        status,
    )  # fmt: skip


@router.get("/console/open/harvest")
def harvest_page(request: Request, session: DbSession, principal: OpenHarvester) -> Response:
    return _harvest_page(request, session, principal)


@router.post("/console/open/harvest")
def harvest_upload(
    request: Request, session: DbSession, principal: OpenHarvester, form: RawForm, token: FormToken
) -> Response:
    upload = form.get("file")
    values = {k: str(form.get(k) or "").strip() for k in ("unit_code", "classification")}
    dry_run = form.get("dry_run") == "on"
    if upload is None or isinstance(upload, str) or not upload.filename:
        return _harvest_page(request, session, principal, values=values, status=422,
                             errors={"file": "choose a catalog file"})  # fmt: skip
    try:
        if not dry_run:
            claim(request, session, token).done(session, "/console/open/harvest")
        pages = [
            harvest.parse(
                upload.file.read(), harvest.parser_for(upload.filename, upload.content_type or "")
            )
        ]
        report = harvest.harvest(
            session,
            principal,
            pages,
            origin=upload.filename,
            unit_code=values["unit_code"],
            classification=values["classification"],
            dry_run=dry_run,
        )
    except CitybaseError as exc:
        undo(session)
        return _harvest_page(
            request,
            session,
            principal,
            values=values,
            status=exc.status_code,
            errors=form_errors(exc),
        )
    return _harvest_page(request, session, principal, report=report, values=values)  # fmt: skip


@router.post("/console/open/harvest/sources")
def harvest_source_add(
    request: Request, session: DbSession, principal: OpenHarvester, values: SubmittedForm,
    token: FormToken,
) -> Response:  # fmt: skip
    try:
        once = claim(request, session, token)
        harvest.add_source(session, principal, HarvestSourceCreate.model_validate(values))
        once.done(session, "/console/open/harvest")
    except (CitybaseError, ValidationError) as exc:
        undo(session)
        status = exc.status_code if isinstance(exc, CitybaseError) else 422
        return _harvest_page(request, session, principal, values=values, status=status,
                             errors=form_errors(exc))  # fmt: skip
    return RedirectResponse("/console/open/harvest", status_code=303)


@router.post("/console/open/harvest/sources/{source_id}")
def harvest_source_run(
    request: Request, session: DbSession, settings: AppSettings, principal: OpenHarvester,
    source_id: int, once: FormOnce, form: SubmittedForm) -> Response:  # fmt: skip
    policy = OutboundPolicy.parse(settings.web.outbound_allow)
    try:
        report = harvest.run_source(session, principal, source_id, policy,
                                    dry_run=form.get("dry_run") == "on")  # fmt: skip
    except CitybaseError as exc:
        undo(session)
        return _harvest_page(request, session, principal, status=exc.status_code,
                             errors=form_errors(exc))  # fmt: skip
    once.done(session, "/console/open/harvest")  # sent again: the sources' page, run once
    return _harvest_page(request, session, principal, report=report)


def _panel(session: Session, principal: Principal, resource: ResourceRead) -> Panel | None:
    if not service.is_open(resource):
        return None
    pending = service.pending_counts(session).get(resource.provider_unit_code, 0)
    return Panel("Open data portal", "opendata/_panel.html",
                 {"code": resource.code, "open_type": resource.open_type.value,
                  "pending": pending}, link=f"/open/{resource.code}")  # fmt: skip


console.add_panel("catalog.resource", 50, _panel)


add_translations("zh", {"choose a catalog file": "请选择目录文件"})
add_patterns("zh", {r"no harvest source (\S+)": "未找到采集来源 {0}",
                    r"no application\s+with this token": "未找到与该凭证相符的申请"})  # fmt: skip

# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"the JSON-LD context (.+?) is an address, and nothing is fetched here: give the document with its context inline": "JSON-LD 上下文 {0} 是一个网址，本平台不抓取外部地址：请提交内嵌上下文的文档",
    r"(.+?) was harvested without its data items: describe them \(replace (.+?)\) before submitting": "{0} 采集时没有数据项：请先补充数据项（替换 {1}）再提交",
    r"the catalog's pages do not end \(at (.+?)\)": "目录的分页没有尽头（在 {0} 处）",
    r"no theme (.+?) in the open catalog": "开放目录中没有主题 {0}",
    r"no unit (.+?) publishes open data": "单位 {0} 没有开放数据",
    r"not a readable (.+?) document: (.+?)": "不是可读的 {0} 文档：{1}",
    r"a source named (.+?) exists": "已有名为 {0} 的采集来源",
    r"the catalog has (.+?) pages": "目录共 {0} 页",
    r"(.+?) cannot be reached: (.+?)": "无法访问 {0}：{1}",
    r"no catalog format (.+?) \(ttl, jsonld, rdf or xml\)": "不支持目录格式 {0}（可选 ttl、jsonld、rdf 或 xml）",
    r"(.+?) answered HTTP (.+?)": "{0} 返回 HTTP {1}",
    r"no format (.+?) \(ttl, jsonld, rdf or xml\)": "不支持格式 {0}（可选 ttl、jsonld、rdf 或 xml）",
    r"no format (.+?) \(csv, json or xlsx\)": "不支持格式 {0}（可选 csv、json 或 xlsx）",
    r"not JSON: (.+?)": "不是有效的 JSON：{0}",
    r"no region (.+?)": "没有行政区划 {0}",
})  # fmt: skip
add_translations("zh", {
    "the document holds no dcat:Catalog and no dcat:Dataset": "文档中既没有 dcat:Catalog，也没有 dcat:Dataset",
})  # fmt: skip
