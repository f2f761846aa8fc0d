"""Console pages of the yearly assessment: the ranking drawn as bars with each unit's items,
the bureau's weighting form, and the workbook the bureau sends."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from openpyxl import Workbook
from openpyxl.styles import Font
from pydantic import ValidationError

from citybase.cockpit.assessment import service
from citybase.cockpit.assessment.schemas import Assessment, RulesIn
from citybase.cockpit.plans import charts
from citybase.cockpit.plans import service as plans
from citybase.cockpit.plans.auth import COCKPIT_MANAGE, COCKPIT_READ, Manager, Reader
from citybase.core import clock
from citybase.core.errors import CitybaseError
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import SubmittedForm, failure_text
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.once import FormToken, claim
from citybase.core.web.templating import NavEntry, console

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(
    NavEntry(
        "Plan supervision",
        "Yearly assessment",
        "/console/cockpit/assessment",
        COCKPIT_READ,
        order=8,
    )
)
STATES = ("green", "yellow", "red", "unreported", "done_on_time", "done_late", "on_track",
          "overdue")  # fmt: skip
STATE_ZH = {
    "green": "绿（在路径上）", "yellow": "黄（略滞后）", "red": "红（严重滞后）", "unreported": "未报送",
    "done_on_time": "按时完成", "done_late": "逾期完成", "on_track": "推进中（未逾期）",
    "overdue": "逾期未完成",
}  # fmt: skip
KIND_ZH = {"indicator": "指标", "task": "任务", "updates": "月度进展"}
add_translations(
    "zh",
    {
        "Yearly assessment": "年度考核", "Year": "年度", "Rank": "排名", "Total score": "总分",
        "Indicators part": "指标得分", "Tasks part": "任务得分", "Updates part": "进展报送得分",
        "Items": "考核明细", "Weighting": "计分规则", "Part weights": "分项权重",
        "Indicator scores": "指标按状态计分", "Task scores": "任务按状态计分",
        "Plan weights (0 leaves the plan out)": "规划权重（0 为不纳入考核）",
        "Why it is weighed so": "规则说明", "Set the weighting": "保存计分规则",
        "Default weighting: the bureau has not set this year's.": "默认规则：本年度计分规则尚未设置。",
        "Set by": "设置人", "Assessed as of": "考核截至", "Plans counted": "纳入考核的规划",
        "No unit is named by a plan in force this year.": "本年度在实施的规划未列明责任单位。",
        "assessment.explain": "各单位按负责报送的指标（年内最新获批数值对照目标路径）、牵头任务（年末状态）和月度进展报送情况计分；"
        "每项按所属规划的权重加权平均，总分按分项权重加权，无考核事项的分项不计。",
        "Item kind": "类别", "Show the year": "查看", "State": "状态", "Detail": "说明", "Weight": "权重",
        **{f"as.{k}": v for k, v in STATE_ZH.items()},
        **{f"kind.{k}": v for k, v in KIND_ZH.items()},
    },
)  # fmt: skip
add_translations("en", {
    **{f"as.{k}": k.replace("_", " ") for k in STATES},
    **{f"kind.{k}": k for k in KIND_ZH},
    "assessment.explain": "Each unit is scored on the indicators it reports (the year's latest "
    "approved value against the path), the tasks it leads (their state at the year's end) and "
    "the monthly updates it sent; items weigh as their plan does, the total weighs the parts as "
    "the bureau sets, leaving out a part with no items.",
})  # fmt: skip


def _year(text: str | None) -> int:
    if text and text.isdigit() and service.FIRST_YEAR <= int(text) <= service.LAST_YEAR:
        return int(text)
    return clock.today().year


@router.get("/console/cockpit/assessment")
def assessment_page(
    request: Request, session: DbSession, principal: Reader, settings: AppSettings
) -> Response:
    year = _year(request.query_params.get("year"))
    found = service.assess(session, year, update_day=settings.cockpit.update_day)
    rows = [(u.name, u.total) for u in found.units]
    return console.render(request, "cockpit/assessment.html", {
        "a": found, "bars": charts.bars(rows), "may_manage": principal.can(COCKPIT_MANAGE),
        "all_plans": plans.list_plans(session), "states": STATES,
    })  # fmt: skip


def rules_from_form(form: dict[str, object]) -> RulesIn:
    """The weighting form: ``parts.indicators``, ``indicator_scores.green``, ``plan.<code>``…"""
    nested: dict[str, dict[str, object]] = {"parts": {}, "indicator_scores": {},
                                            "task_scores": {}, "plan_weights": {}}  # fmt: skip
    for key, value in form.items():
        group, _, name = key.partition(".")
        if group == "plan" and name and str(value).strip() != "":
            nested["plan_weights"][name] = value
        elif group in nested and name:
            nested[group][name] = value
    return RulesIn.model_validate({**nested, "note": str(form.get("note", ""))})


@router.post("/console/cockpit/assessment/rules")
def rules_submit(
    request: Request, session: DbSession, principal: Manager, form: SubmittedForm, token: FormToken
) -> Response:
    year = _year(str(form.get("year", "")))
    here = f"/console/cockpit/assessment?year={year}"
    try:
        once = claim(request, session, token)
        service.set_rules(session, principal, year, rules_from_form(form))
    except (CitybaseError, ValidationError) as exc:
        return RedirectResponse(f"{here}&error={quote(failure_text(session, exc))}",
                                status_code=303)  # fmt: skip
    return once.redirect(session, here)


def workbook(found: Assessment) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "考核结果"
    sheet.append(["排名", "单位", "指标得分", "任务得分", "进展报送得分", "总分"])

    def rounded(v: float | None) -> float | None:
        return None if v is None else round(v, 2)

    for u in found.units:
        sheet.append([u.rank, u.name, rounded(u.indicators), rounded(u.tasks),
                      rounded(u.updates), rounded(u.total)])  # fmt: skip
    items = book.create_sheet("考核明细")
    items.append(["单位", "类别", "规划", "事项", "状态", "说明", "得分", "权重"])
    for u in found.units:
        for i in u.items:
            state = STATE_ZH.get(i.state, i.state)
            items.append([u.name, KIND_ZH[i.kind], i.plan_title, i.name, state, i.detail,
                          round(i.score, 2), i.weight])  # fmt: skip
    rules = book.create_sheet("计分规则")
    r = found.rules
    rules.append(["年度", found.year])
    rules.append(["考核截至", found.as_of.isoformat()])
    rules.append(["设置人", r.set_by or "（默认规则）"])
    for part, label in (("indicators", "指标权重"), ("tasks", "任务权重"), ("updates", "进展权重")):
        rules.append([label, getattr(r.parts, part)])
    for state, score in {**r.indicator_scores.model_dump(), **r.task_scores.model_dump()}.items():
        rules.append([STATE_ZH.get(state, state), score])
    for code, weight in r.plan_weights.items():
        rules.append([f"规划 {code}", weight])
    rules.append(["说明", r.note])
    for ws in book.worksheets:
        for cell in ws[1]:
            cell.font = Font(bold=True)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@router.get("/console/cockpit/assessment.xlsx")
def assessment_xlsx(
    request: Request, session: DbSession, principal: Reader, settings: AppSettings
) -> Response:
    year = _year(request.query_params.get("year"))
    found = service.assess(session, year, update_day=settings.cockpit.update_day)
    return Response(
        workbook(found),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="assessment-{year}.xlsx"'},
    )


# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"a year between (.+?) and (.+?)": "年份应在 {0} 到 {1} 之间",
})  # fmt: skip
add_translations("zh", {
    "the assessment's weighting is the bureau's": "考核权重由数据局设置",
})  # fmt: skip
