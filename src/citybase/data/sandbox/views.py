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
from citybase.core.web.forms import SubmittedForm, failure, failure_text
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.once import FormOnce, FormToken, claim
from citybase.core.web.templating import NavEntry, console
from citybase.data.catalog import service as catalog
from citybase.data.masking import operators as ops
from citybase.data.sandbox import answers, repository, service
from citybase.data.sandbox.auth import SANDBOX_QUERY, SandboxAnalyst, SandboxSteward
from citybase.data.sandbox.schemas import QueryCreate, ShareAnswer
from citybase.data.sharing import service as sharing

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
    "sandbox.delta": ("本次消耗 δ（可选）", "δ to spend (optional)"),
    "sandbox.delta_hint": (
        "δ 大于 0 时按 (ε, δ)-近似差分隐私作答：计数、求和与平均值加高斯噪声，同等 ε 下噪声更小；"
        "δ 从授权的每期 δ 预算中扣除（最大 0.001）。分位数只用纯 ε-差分隐私，δ 须为 0。"
        "δ 为 0 时使用纯 ε-差分隐私（拉普拉斯噪声）。",
        "Above 0, δ answers under (ε, δ)-approximate DP: counts, sums and averages get Gaussian "
        "noise, less of it for the same ε; δ is spent from the grant's δ per period (at most "
        "0.001). Quantiles use pure ε-DP only (δ must be 0). At 0, pure ε-DP (Laplace noise).",
    ),
    "sandbox.delta_left": ("δ 本期剩余", "δ left this period"),
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
    "sandbox.answer_request": ("以沙箱方式答复共享申请", "Answer a share request in the sandbox"),
    "sandbox.answer_intro": (
        "该数据资源因共享类型或分级不能以数据行共享。可改为向申请单位授予隐私预算：申请单位只能在沙箱中提出差分隐私聚合查询，不能读取任何数据行。",
        "This resource's rows may not be shared, by its share type or its grade. Grant the "
        "requesting unit a privacy budget instead: it can only ask differentially private "
        "aggregate queries in the sandbox and reads no row.",
    ),
    "sandbox.request": ("共享申请", "Share request"),
    "sandbox.requester": ("申请单位", "Requesting unit"),
    "sandbox.purpose": ("用途", "Purpose"),
    "sandbox.legal_basis": ("依据", "Legal basis"),
    "sandbox.withheld": ("不以数据行共享的原因", "Why no rows are shared"),
    "sandbox.not_declared": (
        "该数据资源尚未声明到沙箱：请先声明其标识列、分类列和数值列，再以沙箱方式答复。",
        "This resource is not declared to the sandbox: declare its identifier, categorical and "
        "numeric columns first, then answer in the sandbox.",
    ),
    "sandbox.declare_first": ("去声明", "Declare it"),
    "sandbox.declared": ("已声明到沙箱", "Declared to the sandbox"),
    "sandbox.budget_per_period": ("隐私预算 ε（每周期）", "Privacy budget ε (per period)"),
    "sandbox.period": ("周期", "Period"),
    "sandbox.valid_until": ("有效期至（可不填）", "Valid until (optional)"),
    "sandbox.reason": ("答复说明", "What the requester is told"),
    "sandbox.grant_and_answer": ("授予预算并答复", "Grant the budget and answer"),
}
add_translations("zh", {"Privacy sandbox": "隐私计算沙箱"} | {k: v[0] for k, v in _TEXTS.items()})
add_translations("en", {k: v[1] for k, v in _TEXTS.items()})
add_patterns("zh", {
    r"(\S+) is not declared to the sandbox: its steward declares it first.*":
        "{0} 尚未声明到沙箱：请数据管理员先声明（标识列、分类列、数值列），再以沙箱方式答复",
    r"(\S+) may be shared as rows: approve or refuse request (\S+)":
        "{0} 可以数据行共享：请直接同意或不同意申请 {1}",
})  # fmt: skip
HERE = "/console/sandbox"


def _start(request: Request) -> str:
    """A first query on the resource named (the link from a share request answered here)."""
    code = request.query_params.get("resource", "")[:60]
    # a text put in the form, not run: the dialect parses and checks it when asked
    return f'SELECT COUNT(*) FROM "{code}"' if code and '"' not in code else ""  # noqa: S608


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
    grants = service.get_accessible_grants(session, principal, settings.products)
    return console.render(
        request, "sandbox/sandbox.html",
        {"declarations": service.list_declarations(session), "grants": grants,
         # δ is asked where the analyst holds a grant in force that has some δ left
         "delta_left": max((g.delta_remaining for g in grants
                            if g.state.value == "in_force"), default=0.0),
         "queries": service.get_accessible_queries(session, principal, settings.products, 20),
         "shown": shown, "sql": request.query_params.get("sql", "")[:4000] or _start(request)},
    )  # fmt: skip


@router.post("/console/sandbox")
def ask(
    request: Request, session: DbSession, settings: AppSettings, principal: SandboxAnalyst,
    values: SubmittedForm, token: FormToken,
) -> Response:  # fmt: skip
    """Ask from the form; back to the page showing the answer (or the refusal). A form sent
    twice asks once: a query spends budget."""
    try:
        once = claim(request, session, token)
        data = QueryCreate.model_validate({"sql": values.get("sql") or None,
                                           "epsilon": values.get("epsilon") or None,
                                           "delta": values.get("delta") or 0})  # fmt: skip
    except (ValidationError, CitybaseError) as exc:
        return RedirectResponse(f"{HERE}?error={quote(failure_text(session, exc))}",
                                status_code=303)  # fmt: skip
    asked, _ = service.ask_query(session, principal, data, ops.keys_for(settings.masking_key))
    location = f"{HERE}?query={asked.id}"
    once.done(session, location)
    return RedirectResponse(location, status_code=303)


# --- share requests answered in the sandbox (以沙箱方式答复) ---------------------------------------


def _answer_page(
    request: Request, session: DbSession, principal: SandboxSteward, number: str,
    status: int = 200, errors: dict[str, str] | None = None, form: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    asked = sharing.sandbox_answerable(session, principal, number)  # NotFound, Forbidden…
    resource = catalog.get_resource(session, asked.resource_code)
    return console.render(
        request, "sandbox/answer.html",
        {"asked": asked, "resource": resource, "withheld": sharing.rows_withheld(session, resource),
         "declared": repository.declaration(session, asked.resource_code) is not None,
         "errors": errors or {}, "form": form or {}},
        status,
    )  # fmt: skip


@router.get("/console/sandbox/share-requests/{number}")
def answer_page(
    request: Request, session: DbSession, principal: SandboxSteward, number: str
) -> Response:
    """The providing steward's form: answer a share request by a privacy budget."""
    return _answer_page(request, session, principal, number)


@router.post("/console/sandbox/share-requests/{number}")
def answer_submit(
    request: Request, session: DbSession, settings: AppSettings, principal: SandboxSteward,
    number: str, once: FormOnce, form: SubmittedForm,
) -> Response:  # fmt: skip
    values = {k: str(v) for k, v in form.items()}
    try:
        data = ShareAnswer.model_validate({
            "epsilon": values.get("epsilon") or None, "period": values.get("period") or "month",
            "valid_until": values.get("valid_until") or None, "reason": values.get("reason", ""),
        })  # fmt: skip
        answers.answer_share_request(session, principal, settings.products, number, data)
    except (ValidationError, CitybaseError) as exc:
        errors = failure(session, exc)
        return _answer_page(request, session, principal, number, 422, errors, values)
    return once.redirect(session, f"/console/sharing?done={quote(number)}")


# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"output (.+?) is (.+?): only released outputs are downloaded": "输出 {0} 当前为「{1}」：只有已放行的输出可以下载",
    r"no held output (.+?) for you to review": "没有待您审核的暂存输出 {0}",
    r"(.+?) is not available in the sandbox": "{0} 在沙箱中不可用",
    r"the file of output (.+?) is gone": "输出 {0} 的文件已不存在",
    r"output (.+?) is already (.+?)": "输出 {0} 已处理（{1}）",
    r"no sandbox query (.+?)": "未找到沙箱查询 {0}",
    r"no sandbox job (.+?)": "未找到沙箱作业 {0}",
    r"a job's time limit is at most (\d+) s": "作业的运行时限最长 {0} 秒",
    r"job (.+?) is (.+?): only a queued job is cancelled":
        "作业 {0} 已开始运行或已结束：只有排队中的作业可以撤回",
    r"no output (.+?)": "未找到输出 {0}",
})  # fmt: skip
add_translations("zh", {
    "a rejection says why": "驳回须说明原因",
})  # fmt: skip
