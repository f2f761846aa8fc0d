"""The sandbox's console page (隐私计算沙箱): an analyst sees the declared resources, their
unit's grants with the budget left this period, asks a query and reads the answers with their
cost and OpenDP's accuracy."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from citybase.core.errors import CitybaseError, NotFound
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import failure_text, read_form
from citybase.core.web.i18n import add_translations
from citybase.core.web.once import claim
from citybase.core.web.templating import NavEntry, console
from citybase.data.masking import operators as ops
from citybase.data.sandbox import service
from citybase.data.sandbox.auth import SANDBOX_QUERY, SandboxAnalyst
from citybase.data.sandbox.schemas import QueryCreate

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Data", "Privacy sandbox", "/console/sandbox", SANDBOX_QUERY,
                          order=46))  # fmt: skip
_TEXTS = {
    "sandbox.intro": (
        "数据可用不可见：对已声明的数据资源提出聚合查询，结果由 OpenDP 加入差分隐私噪声后返回，"
        "每次查询消耗隐私预算（ε），原始数据不出平台。",
        "Usable but invisible: ask aggregate questions of declared resources; OpenDP adds "
        "differential-privacy noise to every answer and each query spends privacy budget (ε); "
        "no row leaves the platform.",
    ),
    "sandbox.resources": ("可查询的数据资源", "Resources one may query"),
    "sandbox.no_resources": (
        "暂无声明到沙箱的数据资源。",
        "No resource is declared to the sandbox.",
    ),
    "sandbox.identifier": ("隐私单位（标识列）", "Privacy unit (identifier column)"),
    "sandbox.max_rows": ("每人最多贡献行数", "Rows per person at most"),
    "sandbox.categorical": ("分类列（公开取值）", "Categorical columns (public keys)"),
    "sandbox.numeric": ("数值列（取值范围）", "Numeric columns (bounds)"),
    "sandbox.masking": ("按分级脱敏", "Masked by grade"),
    "sandbox.grants": ("本单位的沙箱授权", "My unit's sandbox grants"),
    "sandbox.no_grants": ("本单位暂无沙箱授权。", "My unit holds no sandbox grant."),
    "sandbox.budget": ("预算 ε / 周期", "Budget ε / period"),
    "sandbox.spent": ("本期已用", "Spent this period"),
    "sandbox.remaining": ("本期剩余", "Left this period"),
    "sandbox.period.month": ("每月", "per month"),
    "sandbox.period.year": ("每年", "per year"),
    "sandbox.state.in_force": ("有效", "In force"),
    "sandbox.state.revoked": ("已撤销", "Revoked"),
    "sandbox.state.expired": ("已过期", "Expired"),
    "sandbox.ask": ("提出查询", "Ask a query"),
    "sandbox.sql": ("查询语句（SQL）", "Query (SQL)"),
    "sandbox.sql_hint": (
        "支持 COUNT(*)、SUM、AVG、MEDIAN、QUANTILE(列, q)，GROUP BY 分类列，WHERE 用 =、!=、<、<=、>、>=、IN 以 AND 连接；FROM 后写资源代码（加双引号）。",
        "COUNT(*), SUM, AVG, MEDIAN, QUANTILE(column, q); GROUP BY categorical columns; WHERE "
        "with =, !=, <, <=, >, >=, IN joined by AND; FROM the resource code (in double quotes).",
    ),
    "sandbox.epsilon": ("本次消耗 ε", "ε to spend"),
    "sandbox.answer": ("查询结果", "Answer"),
    "sandbox.cost": ("隐私消耗", "Privacy cost"),
    "sandbox.accuracy": ("准确度（OpenDP，95% 置信）", "Accuracy (OpenDP, 95 % confidence)"),
    "sandbox.accuracy_hint": (
        "在 95% 置信度下，发布值与真实值之差不超过此数；平均值的噪声分别加在总和与计数上。",
        "At 95 % confidence the released value is within this of the true one; an average is "
        "a noisy sum over a noisy count.",
    ),
    "sandbox.statistic": ("统计量", "Statistic"),
    "sandbox.distribution": ("噪声分布", "Noise"),
    "sandbox.scale": ("尺度", "Scale"),
    "sandbox.queries": ("我的查询", "My queries"),
    "sandbox.no_queries": ("暂无查询。", "No queries yet."),
    "sandbox.status.answered": ("已回答", "Answered"),
    "sandbox.status.refused": ("已拒绝", "Refused"),
    "sandbox.status.running": ("处理中", "Running"),
    "sandbox.refused": ("查询被拒绝", "Query refused"),
    "sandbox.rule": ("规则", "Rule"),
    "sandbox.view": ("查看", "View"),
}
add_translations("zh", {"Privacy sandbox": "隐私计算沙箱"} | {k: v[0] for k, v in _TEXTS.items()})
add_translations("en", {k: v[1] for k, v in _TEXTS.items()})
HERE = "/console/sandbox"


@router.get("/console/sandbox")
def sandbox_page(
    request: Request, session: DbSession, settings: AppSettings, principal: SandboxAnalyst
) -> Response:
    shown = None
    wanted = request.query_params.get("query", "")
    if wanted.isdigit() and len(wanted) < 18:
        try:
            shown = service.get_accessible_query(session, principal, settings.products,
                                                 int(wanted))  # fmt: skip
        except NotFound:
            shown = None
    return console.render(
        request, "sandbox/sandbox.html",
        {"declarations": service.list_declarations(session),
         "grants": service.get_accessible_grants(session, principal, settings.products),
         "queries": service.get_accessible_queries(session, principal, settings.products, 20),
         "shown": shown, "sql": request.query_params.get("sql", "")[:4000]},
    )  # fmt: skip


@router.post("/console/sandbox")
async def ask(
    request: Request, session: DbSession, settings: AppSettings, principal: SandboxAnalyst
) -> Response:
    """Ask from the form; back to the page showing the answer (or the refusal). A form sent
    twice asks once: a query spends budget."""
    try:
        once = await claim(request, session)
        values = await read_form(request)
        data = QueryCreate.model_validate({"sql": values.get("sql") or None,
                                           "epsilon": values.get("epsilon") or None})  # fmt: skip
    except (ValidationError, CitybaseError) as exc:
        return RedirectResponse(f"{HERE}?error={quote(failure_text(session, exc))}",
                                status_code=303)  # fmt: skip
    asked, _ = service.ask_query(session, principal, data, ops.keys_for(settings.masking_key))
    location = f"{HERE}?query={asked.id}"
    once.done(session, location)
    return RedirectResponse(location, status_code=303)
