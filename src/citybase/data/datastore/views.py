"""Console pages: a resource's rows — preview, search, and loading a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.errors import CitybaseError, NotFound
from citybase.core.identity.schemas import Principal, Role
from citybase.core.progress import FINISHED
from citybase.core.settings import Settings
from citybase.core.web.deps import AppSettings, DbSession, traced_read
from citybase.core.web.forms import RawForm, form_errors, undo
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.once import FIELD, FormToken, claim
from citybase.core.web.templating import Panel, console
from citybase.data.catalog import service as catalog
from citybase.data.catalog.auth import CATALOG_EDIT, CatalogEditor, CatalogReader
from citybase.data.catalog.schemas import ResourceRead
from citybase.data.datastore import service
from citybase.data.datastore.schemas import LoadReport, RowQuery
from citybase.data.masking import operators as ops
from citybase.data.sharing import access
from citybase.data.sharing.schemas import ReadContext, SharedPage

router = APIRouter(include_in_schema=False)
PAGE = 50  # rows on a page
EXPORT_STEP = "reading and masking the granted rows"
console.add_templates(Path(__file__).parent / "templates")
add_translations(
    "zh",
    {
        "Read under your unit's grant #{id}: only the granted data items, masked as the grant and the resource's grade say.": "依据本单位的共享授权 #{id} 查看：仅含授权的数据项，按授权与资源分级脱敏。",
        "Masked": "已脱敏",
        "Export the granted rows (CSV)": "导出授权数据（CSV）",
        "reading the file": "正在读取文件",
        EXPORT_STEP: "正在读取并脱敏授权数据",
        "storing the rows": "正在写入数据",
        "checking the cells": "正在检查单元格",
        "Contents": "数据内容",
        "Rows": "行数",
        "Loaded by": "加载人",
        "Loaded at": "加载时间",
        "Load number": "加载批次",
        "Source file": "来源文件",
        "No rows are loaded yet.": "尚未加载数据。",
        "Load rows (replaces all rows)": "加载数据（替换全部数据）",
        "The header names the data items; dates as YYYY-MM-DD.": "首行为信息项名称；日期格式为 YYYY-MM-DD。",
        "Check only, load nothing": "仅检查，不加载",
        "Load": "导入",
        "Row": "行",
        "Value": "数值",
        "Problem": "问题",
        "Nothing was loaded: fix these cells and try again.": "未加载任何数据：请修正以下单元格后重试。",
        "The file is good: {n} rows would be loaded.": "文件无误：将加载 {n} 行。",
        "{n} rows loaded.": "已加载 {n} 行。",
        "Rows are shown to the provider unit; other units apply to share them.": "数据内容仅向提供单位展示；其他单位请通过共享申请获取。",
        "Search the rows": "在数据中查找",
        "Why you read them": "查看原因",
        "Every look at these rows is on the ledger and in the access log.": "每次查看数据内容都记入账本和调用日志。",
    },
)


def _page(
    request: Request, session: DbSession, settings: Settings, principal: CatalogReader, code: str,
    *,
    report: LoadReport | None = None, errors: dict[str, str] | None = None, status: int = 200,
) -> Response:  # fmt: skip
    resource = catalog.get_accessible_resource(session, principal, code)
    table = service.get_table(session, principal, code)
    params = request.query_params
    page = int(params["page"]) if params.get("page", "").isdigit() else 1
    why = params.get("why", "")[:500]
    case = params.get("case", "").strip()[:80]  # the case a read of graded data is for (案件编号)
    query = RowQuery(q=params.get("q", "")[:200], limit=PAGE, offset=(max(page, 1) - 1) * PAGE)
    rows: Any = None
    shown, granted, refused = False, None, ""
    keys = ops.keys_for(settings.masking_key)
    if table is not None:
        try:  # the provider's own staff read in the clear, and the read is traced as any other
            rows, _ = access.read_own_rows(session, principal, code, ReadContext(purpose=why),
                                           query, keys)  # fmt: skip
            shown = True
        except CitybaseError:  # refused before anything was read or written
            rows = None
        if not shown and access.grant_held(session, principal, code) is not None:
            # another unit's staff under their unit's grant: the granted fields, masked as the
            # grant and the resource's grade say, the read traced
            served = access.read_rows(session, principal, code,
                                      ReadContext(purpose=why, case_number=case), query, keys)  # fmt: skip
            if isinstance(served, access.Served):
                granted, shown = served.page, True
                rows = _granted_rows(resource, served.page)
            else:
                refused = served.error().message
    can_load = principal.can(CATALOG_EDIT) and (
        principal.unit_code == resource.provider_unit_code
        or principal.has_role(Role.platform_admin)
    )
    return console.render(
        request, "datastore/rows.html",
        {"r": resource, "table": table, "rows": rows, "shown": shown, "page": max(page, 1),
         "q": params.get("q", ""), "why": why, "can_load": can_load, "report": report,
         "errors": errors or {}, "granted": granted, "refused": refused, "per_page": PAGE,
         "case": case, "may_read_granted": granted is not None or bool(refused)},
        status,
    )  # fmt: skip


def _granted_rows(resource: ResourceRead, page: SharedPage) -> dict[str, Any]:
    """A page served under a grant, shaped as the provider's own page is: the granted
    columns in the catalog's order, with their types."""
    present = set(page.rows[0]) if page.rows else set(page.masked)
    columns = [{"name": i.name, "type": i.data_type.value} for i in resource.items
               if i.name in present]  # fmt: skip
    return {"columns": columns, "rows": page.rows, "total": page.total}


@router.get("/console/catalog/{code}/rows.csv")
@traced_read  # an export is a read: on the ledger and in the access log, allowed or refused
def granted_export(
    request: Request, session: DbSession, settings: AppSettings, principal: CatalogReader,
    code: str,
) -> Response:  # fmt: skip
    """The rows one's unit is granted, as CSV: the granted fields, masked, at most the export's
    limit, with the k-anonymity of the rows over their quasi-identifiers in a header."""
    if access.grant_held(session, principal, code) is None:
        raise NotFound(f"no grant of {code} held by your unit", field="code")
    params = request.query_params
    follow = params.get("follow", "")[:64]  # the page follows the export under this token
    report = (
        bus.form_reporter(request.app.state.shared, follow, principal.username) if follow else None
    )
    if report is not None:
        report(0, 1, EXPORT_STEP)
    served = access.read_rows(
        session, principal, code,
        ReadContext(purpose=params.get("why", "")[:500], case_number=params.get("case", "")[:80]),
        RowQuery(q=params.get("q", "")[:200], limit=0, offset=0),
        ops.keys_for(settings.masking_key), operation="export", up_to=access.EXPORT_MAX_ROWS,
    )  # fmt: skip
    if report is not None:
        report(1, 1, FINISHED)
    if isinstance(served, access.Refused):
        raise served.error()
    page, k = served.page, served.k
    columns = list(page.rows[0]) if page.rows else list(page.masked)
    return Response(access.to_csv(columns, page.rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{code}.csv"',
                             "X-Citybase-Access": str(page.access_id),
                             "X-Citybase-K-Anonymity": f"k={k.k}; below-{k.threshold}={k.below}"})  # fmt: skip


@router.get("/console/catalog/{code}/rows")
@traced_read  # showing the rows puts the read on the ledger and the access log
def rows_page(
    request: Request, session: DbSession, settings: AppSettings, principal: CatalogReader,
    code: str,
) -> Response:  # fmt: skip
    return _page(request, session, settings, principal, code)


@router.post("/console/catalog/{code}/rows")
def rows_upload(
    request: Request, session: DbSession, settings: AppSettings, principal: CatalogEditor,
    code: str, form: RawForm, token: FormToken,
) -> Response:  # fmt: skip
    upload = form.get("file")
    dry_run = form.get("dry_run") == "on"
    report, errors = None, {}
    if upload is None or isinstance(upload, str) or not upload.filename:
        errors = {"file": "choose an .xlsx or .csv file"}
    else:
        try:
            if not dry_run:
                claim(request, session, token).done(session, f"/console/catalog/{code}/rows")
            follow = bus.form_reporter(request.app.state.shared,
                                       str(form.get(FIELD, "")), principal.username)  # fmt: skip
            report = service.load_file(session, principal, code, upload.filename,
                                       upload.file.read(), dry_run=dry_run, progress=follow)  # fmt: skip
        except CitybaseError as exc:
            undo(session)
            errors = form_errors(exc)
    failed = bool(errors) or bool(report and report.problems)
    if failed and not errors:
        undo(session)  # nothing was loaded: the form's token is given back with the rest
    return _page(request, session, settings, principal, code, report=report, errors=errors,
                 status=422 if failed else 200)  # fmt: skip


def _panel(session: Session, principal: Principal, resource: ResourceRead) -> Panel | None:
    table = service.table_of(session, resource.code)
    return Panel("Contents", "datastore/_panel.html", {"table": table},
                 link=f"/console/catalog/{resource.code}/rows")  # fmt: skip


console.add_panel("catalog.resource", 40, _panel)


add_patterns("zh", {
    r"checking the cells ([\d,]+ / [\d,]+)": "正在检查单元格 {0}",
    r"not a data item of (\S+) \(items: (.+)\)": "不是资源 {0} 的信息项（信息项有：{1}）",
    r"more than ([\d,]+) rows in one load": "一次最多加载 {0} 行",
    r"no grant of (\S+) held by your unit": "本单位没有资源 {0} 的共享授权",
    r"(\S+) holds personal information(?: \([^)]*\))?: name the case in the X-Citybase-Issue header":
        "资源 {0} 含个人信息：请填写本次查看所办理的案件编号",
})  # fmt: skip
add_translations("zh", {
    "column twice": "列名重复",
    "more cells than the header has columns": "单元格多于首行的列数",
})  # fmt: skip

# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"row (.+?), (?P<field>.+?): (.+?) \((.+?) problem\(s\); nothing was loaded\)": "第 {0} 行，{1}：{2}（共 {3} 处问题，未载入任何数据）",
    r"filters must be a JSON object: (.+?)": "筛选条件应为 JSON 对象：{0}",
    r"(.+?) carries no rows": "{0} 没有数据行",
})  # fmt: skip
add_translations("zh", {
    "rows load from .csv or .xlsx files": "数据行只能从 .csv 或 .xlsx 文件载入",
    "the file has no header row": "文件没有表头行",
    "filters must be a JSON object": "筛选条件应为 JSON 对象",
    "rows are read here by the provider unit; other units apply to share them": "此处只有提供单位可以读取数据行；其他单位请申请共享",
})  # fmt: skip
