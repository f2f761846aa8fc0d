"""Console pages for data quality: the dashboard, the dispute inbox, and the resource panel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError, NotFound
from citybase.core.identity.schemas import Principal
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import SubmittedForm, failure, form_errors, undo
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.once import FormOnce, FormToken, claim
from citybase.core.web.templating import NavEntry, Panel, Waiting, console
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import ResourceRead
from citybase.data.quality import service
from citybase.data.quality.auth import QUALITY_DISPUTE, QUALITY_MANAGE, Disputer, QualityManager
from citybase.data.quality.schemas import DisputeAnswer, DisputeCreate, DisputeStatus, RuleCreate

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Data", "Data quality", "/console/quality", QUALITY_DISPUTE, order=43))
console.add_page(
    NavEntry("Data", "Data disputes", "/console/quality/disputes", QUALITY_DISPUTE, order=44)
)
add_translations(
    "zh",
    {
        "Data quality": "数据质量", "Data disputes": "数据纠错申诉", "Score": "得分",
        "Quality rules": "质量规则", "Last run": "最近检测", "Trend": "趋势", "Run now": "立即检测",
        "Failures": "问题数", "Open disputes": "待处理申诉", "No rules yet.": "尚未配置质量规则。",
        "Add a rule": "新增规则", "Parameters (JSON)": "参数（JSON）", "Item": "数据项",
        "Rule kind": "规则类型", "Remove": "删除", "Raise a dispute": "提出纠错申诉",
        "Row (column=value, one per line)": "所在行（列=值，每行一个）",
        "Proposed value": "建议值", "Deadline": "办理时限", "Overdue": "逾期",
        "Corrected": "已更正", "Answer without correcting": "答复（不更正）",
        "Response": "答复", "Acknowledge": "已阅", "No disputes.": "暂无申诉。",
        "Examples": "问题示例", "Checked": "检查数",
        "rule.not_null": "非空", "rule.unique": "唯一", "rule.pattern": "格式",
        "rule.value_set": "值域", "rule.range": "取值范围", "rule.check_chars": "校验位",
        "rule.reference": "参照一致",
        "disp.open": "待处理", "disp.corrected": "已更正", "disp.answered": "已答复",
        "disp.withdrawn": "已撤回",
    },
)  # fmt: skip
add_translations("zh", {
    "a dispute is answered by the providing unit": "异议由提供单位答复",
    "a dispute is raised for a unit; this account has none": "提出异议须以单位名义，该账号未归属单位",
    "quality rules are kept by the providing unit": "质量规则由提供单位维护",
    "the disputing unit acknowledges the answer": "由提出异议的单位确认答复",
    "the disputing unit withdraws it": "由提出异议的单位撤回",
    "give min, max or both": "请填写最小值、最大值或两者", "min is above max": "最小值大于最大值",
    "give the allowed values as a list": "请以列表形式给出允许的取值", "give the pattern": "请填写格式规则",
})  # fmt: skip
add_patterns("zh", {
    r"no dispute (\S+)": "未找到异议 {0}", r"dispute (\S+) is already (\w+)": "异议 {0} 已处于“{1}”状态",
    r"(\S+) has no quality rules yet": "{0} 尚无质量规则",
    r"(\S+) is not a data item of (\S+)": "{0} 不是 {1} 的信息项",
    r"not a regular expression: .*": "不是有效的正则表达式",
    r"no rule (\S+) on (\S+)": "{1} 上没有规则 {0}",
})  # fmt: skip
add_translations("en", {
    **{f"rule.{k}": k.replace("_", " ") for k in ("not_null", "unique", "pattern", "value_set",
                                                  "range", "check_chars", "reference")},
    **{f"disp.{k}": k for k in ("open", "corrected", "answered", "withdrawn")},
})  # fmt: skip


@router.get("/console/quality")
def dashboard(request: Request, session: DbSession, principal: Disputer) -> Response:
    """Each resource with rules that the principal may see: its latest score, failures and open
    disputes (a unit's own first)."""
    rows = []
    for code in service.codes_with_rules(session):
        try:
            rows.append(service.quality_of(session, principal, code))
        except NotFound:
            continue
    own = {r.code for r in catalog.registered_resources(session)
           if r.provider_unit_code == principal.unit_code}  # fmt: skip
    rows.sort(key=lambda q: q.resource_code not in own)
    return console.render(request, "quality/dashboard.html", {"rows": rows})


def _disputes(
    request: Request, session: Session, principal: Principal, status: int = 200, **extra: Any
) -> Response:
    return console.render(
        request, "quality/disputes.html",
        {"disputes": service.list_disputes(session, principal), "errors": {}, "form": {},
         "may_answer": principal.can(QUALITY_MANAGE), **extra},
        status,
    )  # fmt: skip


@router.get("/console/quality/disputes")
def disputes_page(request: Request, session: DbSession, principal: Disputer) -> Response:
    return _disputes(request, session, principal, done=request.query_params.get("done"),
                     form={"resource_code": request.query_params.get("resource", "")})  # fmt: skip


def _row_filter(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


@router.post("/console/quality/disputes")
def raise_submit(
    request: Request, session: DbSession, settings: AppSettings, principal: Disputer,
    form: SubmittedForm, token: FormToken,
) -> Response:  # fmt: skip
    try:
        once = claim(request, session, token)
        raised = service.raise_dispute(
            session, principal,
            DisputeCreate(resource_code=form.get("resource_code", ""), item=form.get("item", ""),
                          row_filter=_row_filter(str(form.get("row", ""))),
                          description=form.get("description", ""),
                          proposed_value=form.get("proposed_value", "")),
            settings.quality.dispute_days,
        )  # fmt: skip
    except (CitybaseError, ValidationError) as exc:
        undo(session)  # a resource code typed wrong is the form's error, not a page of its own
        return _disputes(request, session, principal, 422, errors=form_errors(exc), form=form)
    return once.redirect(session, f"/console/quality/disputes?done={raised.number}")


@router.post("/console/quality/disputes/{number}/{verb}")
def dispute_verb(
    request: Request,
    session: DbSession,
    principal: Disputer,
    number: str,
    verb: str,
    once: FormOnce,
    form: SubmittedForm,
) -> Response:
    try:
        if verb == "answer":
            if not principal.can(QUALITY_MANAGE):
                raise NotFound(f"no dispute {number}", field="number")
            service.answer_dispute(session, principal, number, DisputeAnswer(
                corrected=form.get("corrected") == "yes", response=form.get("response", "")))  # fmt: skip
        elif verb == "acknowledge":
            service.acknowledge(session, principal, number)
        elif verb == "withdraw":
            service.withdraw_dispute(session, principal, number)
        else:
            raise NotFound(f"no action {verb}")
    except (CitybaseError, ValidationError) as exc:
        return _disputes(
            request, session, principal, 422, errors=failure(session, exc), failed=number
        )
    return once.redirect(session, f"/console/quality/disputes?done={number}")


def _back(code: str, error: str) -> Response:
    """Back to the resource page, which shows the error above its content."""
    return RedirectResponse(f"/console/catalog/{quote(code)}?error={quote(error)}", status_code=303)


@router.post("/console/quality/resources/{code}/rules")
def add_rule_submit(
    request: Request, session: DbSession, principal: QualityManager, code: str,
    form: SubmittedForm, token: FormToken,
) -> Response:  # fmt: skip
    try:
        once = claim(request, session, token)
        params = json.loads(str(form.get("params") or "{}"))
        service.add_rule(session, principal, code, RuleCreate(
            item=form.get("item", ""), kind=form.get("kind", ""), params=params))  # fmt: skip
    except json.JSONDecodeError as exc:
        undo(session)
        return _back(code, f"params: {exc.msg}")
    except (CitybaseError, ValidationError) as exc:
        return _back(code, "; ".join(failure(session, exc).values()))
    return once.redirect(session, f"/console/catalog/{code}#quality")


@router.post("/console/quality/resources/{code}/runs")
def run_submit(
    request: Request, session: DbSession, principal: QualityManager, code: str, token: FormToken
) -> Response:
    try:
        once = claim(request, session, token)
        service.run_now(session, principal, code)
    except CitybaseError as exc:
        return _back(code, "; ".join(failure(session, exc).values()))
    return once.redirect(session, f"/console/catalog/{code}#quality")


def _panel(session: Session, principal: Principal, resource: ResourceRead) -> Panel | None:
    quality = service.quality_of(session, principal, resource.code)
    return Panel("Data quality", "quality/_panel.html",
                 {"q": quality, "code": resource.code,
                  "rules": service.list_rules(session, principal, resource.code),
                  "item_names": [i.name for i in resource.items],
                  "may_manage": principal.can(QUALITY_MANAGE)
                  and principal.unit_code == resource.provider_unit_code},
                 link="/console/quality")  # fmt: skip


console.add_panel("catalog.resource", 70, _panel)


def _waiting_disputes(session: Session, principal: Principal) -> list[Waiting]:
    """Disputes other units raised against the unit's data that wait for its answer."""
    if not principal.can(QUALITY_MANAGE) or not principal.unit_code:
        return []
    open_ = [d for d in service.list_disputes(session, principal, DisputeStatus.open)
             if d.provider_unit_code == principal.unit_code]  # fmt: skip
    oldest = min((d.created_at for d in open_), default=None)
    return [Waiting("Data disputes to answer", len(open_), oldest, "/console/quality/disputes")]


console.add_waiting(_waiting_disputes)
add_translations("zh", {"Data disputes to answer": "待答复的数据异议"})
