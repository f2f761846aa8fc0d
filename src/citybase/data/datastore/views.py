"""Console pages: a resource's rows — preview, search, and loading a file."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError
from citybase.core.identity.schemas import Principal, Role
from citybase.core.web.deps import DbSession
from citybase.core.web.forms import form_errors, undo
from citybase.core.web.i18n import add_translations
from citybase.core.web.templating import Panel, console
from citybase.data.catalog import service as catalog
from citybase.data.catalog.auth import CATALOG_EDIT, CatalogEditor, CatalogReader
from citybase.data.catalog.schemas import ResourceRead
from citybase.data.datastore import service
from citybase.data.datastore.schemas import LoadReport, RowQuery

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
add_translations(
    "zh",
    {
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
    },
)


def _page(
    request: Request, session: DbSession, principal: CatalogReader, code: str, *,
    report: LoadReport | None = None, errors: dict[str, str] | None = None, status: int = 200,
) -> Response:  # fmt: skip
    resource = catalog.get_accessible_resource(session, principal, code)
    table = service.get_table(session, principal, code)
    params = request.query_params
    page = int(params["page"]) if params.get("page", "").isdigit() else 1
    rows, shown = None, False
    if table is not None:
        try:
            rows = service.query_own(
                session, principal, code,
                RowQuery(q=params.get("q", ""), limit=50, offset=(max(page, 1) - 1) * 50),
            )  # fmt: skip
            shown = True
        except CitybaseError:
            rows = None
    can_load = principal.can(CATALOG_EDIT) and (
        principal.unit_code == resource.provider_unit_code
        or principal.has_role(Role.platform_admin)
    )
    return console.render(
        request, "datastore/rows.html",
        {"r": resource, "table": table, "rows": rows, "shown": shown, "page": max(page, 1),
         "q": params.get("q", ""), "can_load": can_load, "report": report,
         "errors": errors or {}},
        status,
    )  # fmt: skip


@router.get("/console/catalog/{code}/rows")
def rows_page(
    request: Request, session: DbSession, principal: CatalogReader, code: str
) -> Response:
    return _page(request, session, principal, code)


@router.post("/console/catalog/{code}/rows")
async def rows_upload(
    request: Request, session: DbSession, principal: CatalogEditor, code: str
) -> Response:
    form = await request.form()
    upload = form.get("file")
    dry_run = form.get("dry_run") == "on"
    report, errors = None, {}
    if upload is None or isinstance(upload, str) or not upload.filename:
        errors = {"file": "choose an .xlsx or .csv file"}
    else:
        try:
            report = service.load_file(
                session, principal, code, upload.filename, await upload.read(), dry_run=dry_run
            )
        except CitybaseError as exc:
            undo(session)
            errors = form_errors(exc)
    failed = bool(errors) or bool(report and report.problems)
    return _page(request, session, principal, code, report=report, errors=errors,
                 status=422 if failed else 200)  # fmt: skip


def _panel(session: Session, principal: Principal, resource: ResourceRead) -> Panel | None:
    table = service.table_of(session, resource.code)
    return Panel("Contents", "datastore/_panel.html", {"table": table},
                 link=f"/console/catalog/{resource.code}/rows")  # fmt: skip


console.add_panel("catalog.resource", 40, _panel)
