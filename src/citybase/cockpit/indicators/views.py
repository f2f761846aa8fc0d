"""Console pages of indicators: one indicator with its chart, history and forms; the bureau's
queue of reported values awaiting approval."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.cockpit.indicators import measures, service
from citybase.cockpit.indicators.schemas import (
    ActualCreate,
    ActualRead,
    ActualStatus,
    Correction,
    Decision,
    IndicatorRead,
    IndicatorSpec,
    Progress,
)
from citybase.cockpit.plans import service as plans
from citybase.cockpit.plans.auth import COCKPIT_MANAGE, COCKPIT_REPORT, Manager, Reader, Reporter
from citybase.cockpit.plans.schemas import PlanRead
from citybase.core.errors import CitybaseError, InvalidInput
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.orgs import service as orgs
from citybase.core.web.deps import DbSession
from citybase.core.web.forms import SubmittedForm, failure, failure_text, split_list
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.once import FormOnce, FormToken, claim
from citybase.core.web.params import Id
from citybase.core.web.templating import NavEntry, Waiting, console

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(
    NavEntry("Plan supervision", "Approvals", "/console/cockpit/approvals", COCKPIT_MANAGE, order=3)
)
add_translations(
    "zh",
    {
        "Approvals": "数据审核", "Past values": "历史数据", "Version": "版本", "Value": "数值",
        "Report a value": "报送数据", "Correct a value": "更正数据", "Reason for the correction": "更正理由",
        "Evidence": "佐证材料", "Approve": "通过", "Reject": "退回", "Note": "说明",
        "Report": "报送", "Correct": "更正", "Reported": "报送时间", "Decided by": "审核人",
        "Nothing awaits approval.": "暂无待审核数据。", "Nature": "指标属性",
        "binding": "约束性", "expected": "预期性", "Direction": "方向",
        "higher": "越大越好", "lower": "越小越好", "Reporting units": "报送单位",
        "Plausible range": "合理区间", "Measured by": "采集口径",
        "act.pending": "待审核", "act.approved": "已通过", "act.rejected": "已退回",
        "act.superseded": "已被更正", "Path to the target": "目标路径",
        "Reported values": "实际值", "Trend": "趋势", "Targets": "分年目标",
        'Period ("2024" or "2024-06")': "期别（“2024”或“2024-06”）",
        "Edit the indicator": "编辑指标", "Measure now": "立即采集本月数值",
        "How it is counted": "采集口径说明", "Measured values": "平台采集值",
        "measured.new": "已采集本月数值，待审核。",
        "measured.same": "本月数值与已有数值相同，未重复写入。",
        "measure.explain": "平台每月初自动采集上月数值，采集值与单位报送值一样需经审核后生效。", "Baseline year": "基期年份", "Baseline value": "基期值",
        'Targets ("2025: 98, 2026: 99")': "分年目标（如“2025: 98, 2026: 99”）",
        "Province's targets": "省级目标", "How the target is worded": "目标表述",
        "Minimum": "下限", "Maximum": "上限", "Task category": "类别",
        "Reporting units (codes or names, comma-separated)": "报送单位（代码或名称，逗号分隔）",
        "(none: reported by units)": "（无：由单位报送）", "exactly": "等于", "over": "超过",
        "under": "低于", "at least": "不低于", "at most": "不高于",
        "Remove from the plan": "从规划中删除",
        "Code (letters, digits, dashes; the same code pairs two cities' indicators)":
            "代码（字母、数字、连字符；两市指标代码相同即可对比）",
        "remove.indicator": "删除后此指标不再出现在规划中；已有报送数据的指标不能删除。",
    },
)  # fmt: skip
add_translations("en", {
    **{f"act.{s}": s for s in ("pending", "approved", "rejected", "superseded")},
    "measured.new": "This month's figure was measured; it awaits review.",
    "measured.same": "This month's figure is the one already held: nothing new was written.",
    "measure.explain": "The platform measures last month's figure early each month; a measured "
    "value is reviewed like a reported one before it counts.",
    "remove.indicator": "Once removed, the indicator is no longer part of the plan; one that "
    "holds reported values cannot be removed.",
})  # fmt: skip

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 640, 280, 56, 16, 16, 48


@dataclass(frozen=True)
class Chart:
    """Coordinates of one indicator's chart, drawn as SVG by the template (no script)."""

    width: int
    height: int
    path: str
    actual: str
    points: list[tuple[float, float, str, bool]]  # x, y, label, measured
    baseline: tuple[float, float, str] | None
    targets: list[tuple[float, float, str]]
    province: list[tuple[float, float, str]]
    trend: str
    forecast: tuple[float, float, str] | None
    xticks: list[tuple[float, str]]
    yticks: list[tuple[float, str]]
    legend_y: int


def chart(p: Progress, history: list[ActualRead]) -> Chart | None:
    """The straight path from baseline through targets, the approved values (reported and
    measured told apart), the trend carried to the final year with the forecast there, and the
    province's targets, on one set of axes."""
    ind = p.indicator
    approved = sorted(
        ((service.period_time(a.period), a.value, a.period, a.measured) for a in history
         if a.status == ActualStatus.approved),
    )  # fmt: skip
    targets = sorted((float(y), v) for y, v in ind.targets.items())
    base = None
    if ind.baseline_year is not None and ind.baseline_value is not None:
        base = (float(ind.baseline_year), ind.baseline_value)
    path = ([base] if base else []) + targets
    province = [(float(y), v) for y, v in ind.province_targets.items()]
    trend = []
    if p.forecast is not None and approved:
        trend = [(approved[-1][0], approved[-1][1]), (float(p.final_year), p.forecast)]
    ts = [t for t, _ in path] + [a[0] for a in approved] + [t for t, _ in province]
    vs = [v for _, v in path] + [a[1] for a in approved] + [v for _, v in province]
    vs += [v for _, v in trend]
    if not ts:
        return None
    t0, t1 = min(ts) - 0.25, max(ts) + 0.25
    lo, hi = min(vs), max(vs)
    pad = (hi - lo) * 0.1 or abs(hi) * 0.1 or 1.0
    lo, hi = lo - pad, hi + pad

    def x(t: float) -> float:
        return round(PAD_L + (t - t0) / (t1 - t0) * (W - PAD_L - PAD_R), 1)

    def y(v: float) -> float:
        return round(H - PAD_B - (v - lo) / (hi - lo) * (H - PAD_T - PAD_B), 1)

    def line(points: list[tuple[float, float]]) -> str:
        return " ".join(f"{x(t)},{y(v)}" for t, v in points)

    years = range(int(t0 + 0.25), int(t1 - 0.25) + 1)
    return Chart(
        width=W, height=H, path=line(path), actual=line([(a[0], a[1]) for a in approved]),
        points=[(x(t), y(v), f"{label}: {v:g}", measured) for t, v, label, measured in approved],
        baseline=(x(base[0]), y(base[1]), f"{int(base[0])}: {base[1]:g}") if base else None,
        targets=[(x(t), y(v), f"{int(t)}: {v:g}") for t, v in targets],
        province=[(x(t), y(v), f"省 {int(t)}: {v:g}") for t, v in province],
        trend=line(trend),
        forecast=(x(trend[1][0]), y(trend[1][1]), f"{p.final_year}: {trend[1][1]:,.4g}")
        if trend else None,
        xticks=[(x(float(yr)), str(yr)) for yr in years],
        yticks=[(y(lo + (hi - lo) * k / 4), f"{lo + (hi - lo) * k / 4:,.4g}") for k in range(5)],
        legend_y=H - 12,
    )  # fmt: skip


@router.get("/console/cockpit/indicators/{indicator_id}")
def indicator_page(
    request: Request, session: DbSession, principal: Reader, indicator_id: Id
) -> Response:
    p = service.progress_of(session, indicator_id)
    history = service.history(session, indicator_id)
    units = p.indicator.units
    may_report = principal.can(COCKPIT_MANAGE) or (
        principal.can(COCKPIT_REPORT) and principal.unit_code in units
    )
    periods = sorted({a.period for a in history}, reverse=True)
    return console.render(request, "cockpit/indicator.html", {
        "p": p, "history": history, "chart": chart(p, history), "may_report": may_report,
        "may_decide": principal.can(COCKPIT_MANAGE), "periods": periods,
        "measure": measures.MEASURES.get(p.indicator.measure),
        "unit_names": orgs.unit_names(session, set(units)),
    })  # fmt: skip


def _back(path: str, exc: Exception | None = None, session: DbSession | None = None) -> Response:
    if exc is None or session is None:
        return RedirectResponse(path, status_code=303)
    message = failure_text(session, exc)
    return RedirectResponse(f"{path}?error={quote(message)}", status_code=303)


@router.post("/console/cockpit/indicators/{indicator_id}/actuals")
def report_submit(
    request: Request, session: DbSession, principal: Reporter, indicator_id: Id,
    form: SubmittedForm, token: FormToken,
) -> Response:  # fmt: skip
    here = f"/console/cockpit/indicators/{indicator_id}"
    try:
        once = claim(request, session, token)
        service.report(session, principal, indicator_id, ActualCreate.model_validate(form))
    except (CitybaseError, ValidationError) as exc:
        return _back(here, exc, session)
    return once.redirect(session, here)


@router.post("/console/cockpit/indicators/{indicator_id}/corrections")
def correct_submit(
    request: Request, session: DbSession, principal: Reporter, indicator_id: Id,
    form: SubmittedForm, token: FormToken,
) -> Response:  # fmt: skip
    here = f"/console/cockpit/indicators/{indicator_id}"
    period = str(form.pop("period", ""))
    try:
        once = claim(request, session, token)
        service.correct(session, principal, indicator_id, period, Correction.model_validate(form))
    except (CitybaseError, ValidationError) as exc:
        return _back(here, exc, session)
    return once.redirect(session, here)


@router.post("/console/cockpit/indicators/{indicator_id}/measure")
def measure_submit(
    request: Request, session: DbSession, principal: Manager, indicator_id: Id, token: FormToken
) -> Response:
    """The bureau asks the platform for this month's figure as it stands."""
    here = f"/console/cockpit/indicators/{indicator_id}"
    try:
        once = claim(request, session, token)
        found = service.measure_now(session, principal, indicator_id)
    except CitybaseError as exc:
        return _back(here, exc, session)
    return once.redirect(session, f"{here}?measured={'new' if found else 'same'}")


@router.post("/console/cockpit/actuals/{actual_id}/decision")
def decide_submit(
    request: Request, session: DbSession, principal: Manager, actual_id: Id, once: FormOnce,
    form: SubmittedForm,
) -> Response:  # fmt: skip
    back = str(form.get("back") or "/console/cockpit/approvals")
    back = back if back.startswith("/console/cockpit/") else "/console/cockpit/approvals"
    try:
        service.decide(session, principal, actual_id, Decision(
            approve=form.get("approve") == "yes", note=str(form.get("note", ""))))  # fmt: skip
    except (CitybaseError, ValidationError) as exc:
        return _back(back, exc, session)
    return once.redirect(session, back)


@router.get("/console/cockpit/approvals")
def approvals(request: Request, session: DbSession, principal: Manager) -> Response:
    waiting = service.pending(session)
    names = {a.indicator_id: service.get(session, a.indicator_id) for a in waiting}
    return console.render(request, "cockpit/approvals.html",
                          {"waiting": waiting, "indicators": names})  # fmt: skip


def _pairs(text: str, field: str) -> dict[int, float]:
    """ "2023: 28, 2024: 32" → {2023: 28.0, 2024: 32.0}"""
    out: dict[int, float] = {}
    for part in (p.strip() for p in re.split(r"[,，;；\n]+", text) if p.strip()):
        found = re.fullmatch(r"(\d{4})\s*[:=：]\s*(\S+)", part)
        if found is None:
            raise InvalidInput(f"write each as year: value, not {part!r}", field=field)
        try:
            out[int(found.group(1))] = float(found.group(2))
        except ValueError as exc:
            raise InvalidInput(f"{found.group(2)!r} is not a number", field=field) from exc
    return out


def spec_from_form(form: dict[str, object], code: str) -> IndicatorSpec:
    def text(key: str) -> str:
        return str(form.get(key) or "").strip()

    baseline = (
        {"year": text("baseline_year"), "value": text("baseline_value")}
        if text("baseline_year") or text("baseline_value")
        else None
    )
    low, high = text("minimum"), text("maximum")
    return IndicatorSpec.model_validate({
        "code": code, "name": text("name"), "unit": text("unit"), "category": text("category"),
        "baseline": baseline, "targets": _pairs(text("targets"), "targets"),
        "province_targets": _pairs(text("province_targets"), "province_targets"),
        "comparator": text("comparator"), "direction": text("direction"),
        "nature": text("nature") or "expected",
        "range": (low, high) if low and high else None, "measure": text("measure"),
        "units": split_list(text("units")), "note": text("note"),
    })  # fmt: skip


def _edit_page(
    request: Request, ind: IndicatorRead | None, form: dict[str, object], errors: dict[str, str],
    status: int = 200, plan: PlanRead | None = None,
) -> Response:  # fmt: skip
    action = (f"/console/cockpit/indicators/{ind.id}/edit" if ind is not None
              else f"/console/cockpit/plans/{quote(plan.code if plan else '')}/indicators/new")  # fmt: skip
    return console.render(request, "cockpit/indicator_edit.html", {
        "ind": ind, "plan": plan, "action": action, "form": form, "errors": errors,
        "measures": measures.MEASURES,
    }, status)  # fmt: skip


def _form_of(ind: IndicatorRead) -> dict[str, object]:
    def pairs(values: dict[str, float]) -> str:
        return ", ".join(f"{y}: {v:g}" for y, v in values.items())

    return {
        "name": ind.name, "unit": ind.measure_unit, "category": ind.category,
        "baseline_year": ind.baseline_year or "", "baseline_value": "" if ind.baseline_value
        is None else f"{ind.baseline_value:g}", "targets": pairs(ind.targets),
        "province_targets": pairs(ind.province_targets), "comparator": ind.comparator,
        "direction": ind.direction.value, "nature": ind.nature.value,
        "minimum": "" if ind.minimum is None else f"{ind.minimum:g}",
        "maximum": "" if ind.maximum is None else f"{ind.maximum:g}", "measure": ind.measure,
        "units": ", ".join(ind.units), "note": ind.note,
    }  # fmt: skip


@router.get("/console/cockpit/indicators/{indicator_id}/edit")
def edit_page(
    request: Request, session: DbSession, principal: Manager, indicator_id: Id
) -> Response:
    ind = service.get(session, indicator_id)
    return _edit_page(request, ind, _form_of(ind), {})


@router.post("/console/cockpit/indicators/{indicator_id}/edit")
def edit_submit(
    request: Request, session: DbSession, principal: Manager, indicator_id: Id, once: FormOnce,
    form: SubmittedForm,
) -> Response:  # fmt: skip
    ind = service.get(session, indicator_id)
    try:
        plans.edit_indicator(session, actor_of(principal), indicator_id,
                             spec_from_form(form, ind.code))  # fmt: skip
    except (CitybaseError, ValidationError) as exc:
        return _edit_page(request, ind, form, failure(session, exc), 422)
    return once.redirect(session, f"/console/cockpit/indicators/{indicator_id}")


@router.get("/console/cockpit/plans/{code}/indicators/new")
def add_page(request: Request, session: DbSession, principal: Manager, code: str) -> Response:
    """A new indicator for the plan, field by field."""
    plan = plans.get_plan(session, code)
    return _edit_page(request, None, {"direction": "higher", "nature": "expected"}, {}, plan=plan)


@router.post("/console/cockpit/plans/{code}/indicators/new")
def add_submit(
    request: Request, session: DbSession, principal: Manager, code: str, form: SubmittedForm,
    token: FormToken,
) -> Response:  # fmt: skip
    plan = plans.get_plan(session, code)
    try:
        once = claim(request, session, token)
        added = plans.add_indicator(session, actor_of(principal), code,
                                    spec_from_form(form, str(form.get("code") or "").strip()))  # fmt: skip
    except (CitybaseError, ValidationError) as exc:
        return _edit_page(request, None, form, failure(session, exc), 422, plan=plan)
    return once.redirect(session, f"/console/cockpit/indicators/{added.id}")


@router.post("/console/cockpit/indicators/{indicator_id}/remove")
def remove(session: DbSession, principal: Manager, indicator_id: Id, once: FormOnce) -> Response:
    """Take the indicator out of its plan (not one that holds reported values)."""
    ind = service.get(session, indicator_id)
    plan = plans.get_plan_by_id(session, ind.plan_id)
    try:
        plans.remove_indicator(session, actor_of(principal), indicator_id)
    except CitybaseError as exc:
        return _back(f"/console/cockpit/indicators/{indicator_id}", exc, session)
    return once.redirect(session, f"/console/cockpit/plans/{quote(plan.code)}")


add_translations("zh", {
    "approving reported values is the bureau's": "审核填报数值由大数据局负责",
    "say why it is rejected": "请说明退回理由",
    "asking the platform to measure is the bureau's": "请平台测算由大数据局负责",
    "range: the minimum is above the maximum": "取值范围：下限大于上限",
})  # fmt: skip

add_patterns("zh", {r"no indicator (\S+)": "未找到指标 {0}",
                    r"no reported value (\S+)": "未找到上报值 {0}"})  # fmt: skip


def _waiting_values(session: Session, principal: Principal) -> list[Waiting]:
    """Reported indicator values that wait for the bureau's approval."""
    if not principal.can(COCKPIT_MANAGE):
        return []
    pending = service.pending(session)
    oldest = min((a.reported_at for a in pending), default=None)
    return [Waiting("Reported values to approve", len(pending), oldest,
                    "/console/cockpit/approvals")]  # fmt: skip


console.add_waiting(_waiting_values)
add_translations("zh", {"Reported values to approve": "待审核的指标填报"})

# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"(.+?) already has a value for (.+?) \(version (.+?), (.+?)\): send a correction with its reason": "{0} 已有 {1} 的数值（第 {2} 版，{3}）：请提交更正并说明原因",
    r"(.+?) is measured in (.+?), not (.+?): convert the value": "{0} 的计量单位是 {1}，不是 {2}：请换算后填报",
    r"(.+?) is before the indicator's baseline year (.+?)": "{0} 早于该指标的基准年 {1}",
    r"value (.+?) is (.+?), not awaiting a decision": "数值 {0} 当前为「{1}」，不在待审核状态",
    r"(.+?) is not measured by the platform": "{0} 不由平台统计",
    r"write each as year: value, not (.+?)": "请逐行按“年份: 数值”填写，而不是 {0}",
    r"(\S+) ?(.*?) is outside what (.+) can be \((.*)\)": "{0} {1} 超出了{2}的取值范围（{3}）",
    r"(.+?) has no value for (.+?) to correct": "{0} 没有 {1} 的数值可更正",
    r"(.+?): nothing to count from yet": "{0}：尚无可统计的数据",
    r"(.+?) is reported by (.+?), not by (.+?)": "{0} 由 {1} 填报，而非 {2}",
    r"(.+?) is still to come \(today is (.+?)\)": "{0} 尚未到来（今天是 {1}）",
    r"(\S+) is not a number": "{0} 不是数字",
})  # fmt: skip
