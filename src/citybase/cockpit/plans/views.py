"""Console pages of plan supervision: the one-screen overview (一屏通览), Fuzhou and Xiamen side by
side, scorecards per responsible unit (考核), and the monthly report as a page and as XLSX."""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from openpyxl import Workbook
from openpyxl.styles import Font
from pydantic import ValidationError

from citybase.cockpit.indicators.schemas import Progress, Status
from citybase.cockpit.plans import charts, service
from citybase.cockpit.plans.auth import COCKPIT_MANAGE, COCKPIT_READ, Manager, Reader
from citybase.cockpit.plans.schemas import PlanDocument, PlanKind, PlanRead, Problem
from citybase.cockpit.tasks import service as tasks
from citybase.cockpit.tasks.schemas import TaskRead
from citybase.core import clock
from citybase.core.errors import CitybaseError
from citybase.core.identity.service import actor_of
from citybase.core.orgs import service as orgs
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import RawForm, SubmittedForm, failure, failure_text, undo
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.once import FormOnce, FormToken, claim
from citybase.core.web.templating import NavEntry, console

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(
    NavEntry("Plan supervision", "Overview", "/console/cockpit", COCKPIT_READ, order=1)
)
console.add_page(
    NavEntry("Plan supervision", "Scorecards", "/console/cockpit/units", COCKPIT_READ, order=5)
)
console.add_page(
    NavEntry(
        "Plan supervision", "Fuzhou and Xiamen", "/console/cockpit/compare", COCKPIT_READ, order=6
    )
)
console.add_page(
    NavEntry("Plan supervision", "Monthly report", "/console/cockpit/report", COCKPIT_READ, order=7)
)
add_translations(
    "zh",
    {
        "Plan supervision": "规划督导", "At a glance": "一屏通览", "Scorecards": "单位考核",
        "Fuzhou and Xiamen": "福厦对比", "Monthly report": "月度报告", "Plans": "规划",
        "Indicator": "指标", "Indicators": "指标", "Unit of measure": "计量单位",
        "Baseline": "基期值", "Target": "目标值", "This year's target": "本年目标",
        "Latest": "最新值", "Completion": "完成度", "Status": "状态", "Forecast": "预测",
        "measured": "平台自动采集", "On track": "正常", "Behind": "滞后", "Well behind": "严重滞后",
        "No value yet": "暂无数据", "Tasks": "任务", "Overdue": "逾期", "Done": "已完成",
        "Awaiting approval": "待审核", "Missing monthly updates": "月度进展未报送",
        "Province's target": "省级目标", "Issued by": "印发单位", "Period": "规划期",
        "Load a plan (YAML)": "导入规划（YAML）", "Load": "导入", "Plan file": "规划文件",
        "loaded": "已导入", "Month": "月份", "Download XLSX": "下载 XLSX", "Print": "打印",
        "Updates this month": "本月进展", "Reported by": "报送单位", "Score": "得分",
        "Reporting unit": "报送单位", "Indicators reported": "负责指标",
        "Tasks led": "牵头任务", "Updates missing": "进展缺报", "green": "绿", "yellow": "黄",
        "red": "红", "none": "无", "Shared indicators": "共有指标", "No plans yet.": "尚未导入规划。",
        "Source": "来源", "Progress": "进度", "Forecast meets the target": "按趋势可达标",
        "Forecast misses the target": "按趋势难以达标", "Lead units": "牵头单位",
        "Due": "完成时限", "Unit": "单位", "Number": "编号", "Title": "标题",
        "Final target": "期末目标", "Nothing reported this month.": "本月无报送。",
        "Tasks by deadline": "任务按完成时限", "Today": "今天", "tl.done": "已完成",
        "tl.in_progress": "推进中", "tl.not_started": "未启动", "tl.suspended": "暂停",
        "tl.overdue": "逾期", "No deadline: the plan's end": "未定时限（按规划期末）", "Overdue tasks": "逾期任务", "Indicators off their path": "偏离目标路径的指标",
        "Expected now": "按路径应达", "Responsible units": "责任单位",
        "No task is overdue.": "无逾期任务。", "Every indicator with a value is on its path.": "有数据的指标均在目标路径上。",
        "Covers every plan in force and its indicators and tasks, as of": "覆盖全部规划的指标和任务，截至",
        "How scores are counted": "计分方法",
        "score.explain": "负责指标按状态计分（绿100、黄60、红0，无数据不计），牵头任务按是否逾期计分"
        "（未逾期100、逾期0），每缺报一次月度进展扣10分；两项取平均。",
        "The city's figures beside": "对照城市数据", "Revision": "版次",
        "Download the plan file": "下载规划文件", "Edit as a plan file": "以规划文件编辑",
        "Edit": "编辑", "Save": "保存", "Nothing was changed:": "未作任何修改：", "line": "第",
        "Edit the document": "编辑规划信息", "Kind": "类型", "Document number": "文号",
        "Issued on": "印发日期", "First year": "起始年份", "Last year": "终止年份", "City": "城市",
        "Region code (when the city is in the register)": "区划代码（本市规划填写）",
        "Goals (one per line)": "主要目标（每行一条）", "Plan summary": "规划概述", "Add an indicator": "新增指标",
        "Add a task": "新增任务", "kind.plan": "规划", "kind.action_plan": "行动方案",
        "kind.work_points": "工作要点",
        "document.explain": "指标和任务不受影响；各指标的目标年份须仍在规划期内。",
        "yaml.explain": "规划文件可增删指标和任务、修改任何内容；保存时整体校验，有任何问题则不作修改，并逐条指出行号和字段。"
        "已有报送数据的指标和已有月度进展的任务不能删除。",
    },
)  # fmt: skip
add_translations("en", {
    **{f"kind.{k.value}": k.value.replace("_", " ") for k in PlanKind},
    **{f"tl.{k}": k.replace("_", " ") for k in ("done", "in_progress", "not_started", "suspended",
                                                "overdue")},
    "document.explain": "Its indicators and tasks are left as they are; their target years must "
    "still lie in the plan's period.",
    "yaml.explain": "The plan file can add or drop indicators and tasks and change anything; it is "
    "checked whole when saved, and with any problem nothing changes and each problem is named by "
    "line and field. Indicators that hold reported values and tasks that hold updates stay.",
    "score.explain": "Indicators a unit reports score by status (green 100, yellow 60, red 0; none "
    "is not counted), tasks it leads by whether they are overdue (100 or 0); each missing monthly "
    "update takes 10 points; the two are averaged.",
})  # fmt: skip

STATUS_SCORE = {Status.green: 100.0, Status.yellow: 60.0, Status.red: 0.0}


def _month(text: str | None, today: date) -> str:
    if text and len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit():
        if 1 <= int(text[5:]) <= 12:
            return text
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year}-{month:02d}"  # last month: the one whose updates are being gathered


@router.get("/console/cockpit")
def overview(
    request: Request, session: DbSession, principal: Reader, settings: AppSettings
) -> Response:
    """Every plan on one screen: each indicator's status, the tasks, what waits."""
    plans = service.overview(session)
    counts = Counter(i.status.value for p in plans for i in p.indicators)
    overdue = sum(1 for p in plans for t in p.tasks if t.overdue)
    missing = service.missing_updates(session, update_day=settings.cockpit.update_day)
    pending = sum(i.pending for p in plans for i in p.indicators)
    today = clock.today()
    return console.render(request, "cockpit/overview.html", {
        "plans": plans, "counts": counts, "overdue": overdue, "missing": missing,
        "pending": pending, "may_manage": principal.can(COCKPIT_MANAGE),
        "sparks": {i.indicator.id: charts.sparkline(i) for p in plans for i in p.indicators},
        "timelines": {p.plan.code: charts.timeline(p.tasks, today, p.plan.start_year,
                                                   p.plan.end_year) for p in plans},
        "unit_names": orgs.unit_names(session, {u for p in plans for i in p.indicators
                                                 for u in i.indicator.units}),
    })  # fmt: skip


@router.post("/console/cockpit/plans")
def load_plan(
    request: Request, session: DbSession, principal: Manager, form: RawForm, token: FormToken
) -> Response:
    """Load a plan file from the console (the same check as the command: all or nothing)."""
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return RedirectResponse("/console/cockpit?error=choose+a+plan+file", status_code=303)
    try:
        once = claim(request, session, token)
    except CitybaseError as exc:
        return RedirectResponse(f"/console/cockpit?error={quote(failure_text(session, exc))}",
                                status_code=303)  # fmt: skip
    text = upload.file.read().decode("utf-8", errors="replace")
    result = service.import_plan(session, actor_of(principal), upload.filename or "plan.yaml", text)
    if result.problems:
        undo(session)
        first = result.problems[0]
        where = f"line {first.line} " if first.line else ""
        message = f"{where}{first.field}: {first.message}"
        more = f" (+{len(result.problems) - 1})" if len(result.problems) > 1 else ""
        return RedirectResponse(f"/console/cockpit?error={quote(message + more)}", status_code=303)
    return once.redirect(session, f"/console/cockpit?loaded={result.plan_code}")


@router.get("/console/cockpit/compare")
def compare(request: Request, session: DbSession, principal: Reader) -> Response:
    """The indicators that plans for different cities share (by code), side by side."""
    plans = service.overview(session)
    by_code: dict[str, dict[str, tuple[Any, Progress]]] = defaultdict(dict)
    for p in plans:
        for i in p.indicators:
            by_code[i.indicator.code].setdefault(p.plan.city, (p.plan, i))
    cities = sorted({p.plan.city for p in plans}, key=lambda c: (c != _home(plans), c))
    shared = {code: row for code, row in by_code.items() if len(row) > 1}
    return console.render(request, "cockpit/compare.html",
                          {"cities": cities, "shared": shared})  # fmt: skip


def _home(plans: list[service.PlanProgress]) -> str:
    return next((p.plan.city for p in plans if p.plan.region_code), "")


@dataclass
class Scorecard:
    unit_code: str
    name: str
    statuses: Counter[str] = field(default_factory=Counter)
    tasks: int = 0
    overdue: int = 0
    missing: int = 0

    @property
    def score(self) -> float | None:
        rated = {Status(s): n for s, n in self.statuses.items() if s != Status.none and n}
        parts = []
        if rated:
            parts.append(sum(STATUS_SCORE[s] * n for s, n in rated.items()) / sum(rated.values()))
        if self.tasks:
            parts.append(100.0 * (self.tasks - self.overdue) / self.tasks)
        if not parts:
            return None
        return max(0.0, sum(parts) / len(parts) - 10.0 * self.missing)


def scorecards(session: Any, update_day: int, today: date | None = None) -> list[Scorecard]:
    plans = service.overview(session, today=today)
    cards: dict[str, Scorecard] = {}

    def card(code: str) -> Scorecard:
        return cards.setdefault(code, Scorecard(code, code))

    for p in plans:
        for i in p.indicators:
            for unit in i.indicator.units:
                card(unit).statuses[i.status.value] += 1
        for t in p.tasks:
            for unit in t.lead_units:
                card(unit).tasks += 1
                card(unit).overdue += int(t.overdue)
    for m in service.missing_updates(session, today, update_day):
        card(m.unit_code).missing += 1
    names = orgs.unit_names(session, cards)
    for c in cards.values():
        c.name = names.get(c.unit_code, c.unit_code)
    return sorted(cards.values(), key=lambda c: (c.score is None, -(c.score or 0), c.unit_code))


@router.get("/console/cockpit/units")
def units(
    request: Request, session: DbSession, principal: Reader, settings: AppSettings
) -> Response:
    cards = scorecards(session, settings.cockpit.update_day)
    return console.render(request, "cockpit/units.html", {
        "cards": cards, "bars": charts.bars([(c.name, c.score) for c in cards]),
    })  # fmt: skip


@dataclass(frozen=True)
class Report:
    """The month's report (月度通报): every plan, the tasks overdue and the indicators off their
    path with the units that answer for them, the month's updates, who did not send one."""

    month: str
    plans: list[service.PlanProgress]
    updates: dict[int, list[Any]]
    missing: list[Any]
    overdue: list[tuple[PlanRead, TaskRead]]
    off_path: list[tuple[PlanRead, Progress]]
    names: dict[str, str]

    def units(self, codes: list[str]) -> str:
        return "、".join(self.names.get(c, c) for c in codes) or "—"


def _report(session: Any, month: str, update_day: int) -> Report:
    plans = service.overview(session)
    updates = tasks.updates_in(session, [t.id for p in plans for t in p.tasks], month)
    missing = [m for m in service.missing_updates(session, update_day=update_day)
               if m.period == month]  # fmt: skip
    overdue = [(p.plan, t) for p in plans for t in p.tasks if t.overdue]
    off_path = [(p.plan, i) for p in plans for i in p.indicators
                if i.status in (Status.yellow, Status.red)]  # fmt: skip
    codes = {u for _, t in overdue for u in t.lead_units + t.support_units}
    codes |= {u for _, i in off_path for u in i.indicator.units} | {m.unit_code for m in missing}
    return Report(month, plans, updates, missing, overdue, off_path,
                  orgs.unit_names(session, codes))  # fmt: skip


@router.get("/console/cockpit/report")
def report(
    request: Request, session: DbSession, principal: Reader, settings: AppSettings
) -> Response:
    """The month's report, printable: every indicator, every task's updates, who is missing."""
    month = _month(request.query_params.get("month"), clock.today())
    return console.render(request, "cockpit/report.html",
                          {"r": _report(session, month, settings.cockpit.update_day)})  # fmt: skip


STATUS_ZH = {"green": "绿", "yellow": "黄", "red": "红", "none": "无数据"}


@router.get("/console/cockpit/report.xlsx")
def report_xlsx(
    request: Request, session: DbSession, principal: Reader, settings: AppSettings
) -> Response:
    month = _month(request.query_params.get("month"), clock.today())
    r = _report(session, month, settings.cockpit.update_day)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "指标"
    sheet.append(["规划", "指标", "计量单位", "基期", "基期值", "期末目标年", "期末目标",
                  "本年目标", "最新期", "最新值", "完成度", "状态", "预测值", "平台采集"])  # fmt: skip
    for p in r.plans:
        for i in p.indicators:
            ind, latest = i.indicator, i.latest
            sheet.append([
                p.plan.title, ind.name, ind.measure_unit, ind.baseline_year, ind.baseline_value,
                i.final_year, f"{ind.comparator}{i.final_target:g}", i.target,
                latest.period if latest else None, latest.value if latest else None,
                round(i.completion, 4) if i.completion is not None else None,
                STATUS_ZH[i.status.value], round(i.forecast, 4) if i.forecast is not None else None,
                "是" if latest and latest.measured else "",
            ])  # fmt: skip
    tasks_sheet = book.create_sheet("任务")
    tasks_sheet.append(["规划", "序号", "任务", "牵头单位", "配合单位", "完成时限", "状态", "进度%",
                        "逾期", f"{month} 进展", "困难问题"])  # fmt: skip
    for p in r.plans:
        for t in p.tasks:
            words = r.updates.get(t.id, [])
            tasks_sheet.append([
                p.plan.title, t.number, t.title, "、".join(t.lead_units),
                "、".join(t.support_units), t.due, t.status.value, t.progress,
                "是" if t.overdue else "", "\n".join(f"{u.unit_code}：{u.text}" for u in words),
                "\n".join(u.problems for u in words if u.problems),
            ])  # fmt: skip
    overdue_sheet = book.create_sheet("逾期任务")
    overdue_sheet.append(
        ["规划", "序号", "任务", "完成时限", "牵头单位", "配合单位", "状态", "进度%"]
    )
    for plan, t in r.overdue:
        overdue_sheet.append([plan.title, t.number, t.title, t.due, r.units(t.lead_units),
                              r.units(t.support_units), t.status.value, t.progress])  # fmt: skip
    off_sheet = book.create_sheet("偏离路径指标")
    off_sheet.append(
        ["规划", "指标", "计量单位", "最新期", "最新值", "按路径应达", "状态", "责任单位"]
    )
    for plan, i in r.off_path:
        latest = i.latest
        off_sheet.append([
            plan.title, i.indicator.name, i.indicator.measure_unit,
            latest.period if latest else None, latest.value if latest else None,
            round(i.expected, 4) if i.expected is not None else None,
            STATUS_ZH[i.status.value], r.units(i.indicator.units),
        ])  # fmt: skip
    missing_sheet = book.create_sheet("缺报")
    missing_sheet.append(["规划", "任务", "单位", "月份", "应报日期"])
    for m in r.missing:
        missing_sheet.append([m.plan_code, f"{m.number} {m.title}", r.units([m.unit_code]),
                              m.period, m.due])  # fmt: skip
    for ws in book.worksheets:
        for cell in ws[1]:
            cell.font = Font(bold=True)
    out = io.BytesIO()
    book.save(out)
    return Response(
        out.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="cockpit-{month}.xlsx"'},
    )


@router.get("/console/cockpit/plans/{code}")
def plan_page(request: Request, session: DbSession, principal: Reader, code: str) -> Response:
    """One plan: its document, goals, indicators and tasks, with the bureau's edit links."""
    [found] = service.overview(session, [code])
    return console.render(request, "cockpit/plan.html",
                          {"p": found, "may_manage": principal.can(COCKPIT_MANAGE)})  # fmt: skip


@router.get("/console/cockpit/plans/{code}/plan.yaml")
def plan_file(session: DbSession, principal: Reader, code: str) -> Response:
    """The plan as a plan file, to keep, edit and load again."""
    return Response(service.export_plan(session, code), media_type="application/yaml",
                    headers={"Content-Disposition": f'attachment; filename="{code}.yaml"'})  # fmt: skip


def _yaml_page(
    request: Request, code: str, text: str, problems: list[Any], status: int = 200
) -> Response:
    return console.render(request, "cockpit/plan_yaml.html",
                          {"code": code, "text": text, "problems": problems}, status)  # fmt: skip


@router.get("/console/cockpit/plans/{code}/yaml")
def plan_yaml(request: Request, session: DbSession, principal: Manager, code: str) -> Response:
    """Edit the whole plan as its file: add or drop indicators and tasks, change anything."""
    return _yaml_page(request, code, service.export_plan(session, code), [])


@router.post("/console/cockpit/plans/{code}/yaml")
def plan_yaml_submit(
    request: Request, session: DbSession, principal: Manager, code: str, form: RawForm,
    token: FormToken,
) -> Response:  # fmt: skip
    text = str(form.get("text") or "")
    try:
        once = claim(request, session, token)
    except CitybaseError as exc:
        problem = Problem(line=None, field="", message=exc.message)
        return _yaml_page(request, code, text, [problem], 422)
    result = service.import_plan(session, actor_of(principal), f"{code}.yaml", text)
    if result.problems:
        undo(session)
        return _yaml_page(request, code, text, result.problems, 422)
    return once.redirect(session, f"/console/cockpit/plans/{result.plan_code}")


def _document_form(plan: PlanRead) -> dict[str, object]:
    return {
        "title": plan.title, "kind": plan.kind.value, "issuer": plan.issuer,
        "document_number": plan.document_number,
        "issued_on": plan.issued_on.isoformat() if plan.issued_on else "",
        "start_year": plan.start_year, "end_year": plan.end_year, "city": plan.city,
        "region": plan.region_code, "summary": plan.summary, "goals": "\n".join(plan.goals),
        "source": plan.source,
    }  # fmt: skip


def _document_page(
    request: Request, plan: PlanRead, form: dict[str, object], errors: dict[str, str],
    status: int = 200,
) -> Response:  # fmt: skip
    return console.render(request, "cockpit/plan_edit.html", {
        "plan": plan, "form": form, "errors": errors, "kinds": [k.value for k in PlanKind],
    }, status)  # fmt: skip


@router.get("/console/cockpit/plans/{code}/edit")
def document_edit(request: Request, session: DbSession, principal: Manager, code: str) -> Response:
    """The plan's document field by field: title, issuer, number, dates, period, goals."""
    plan = service.get_plan(session, code)
    return _document_page(request, plan, _document_form(plan), {})


@router.post("/console/cockpit/plans/{code}/edit")
def document_edit_submit(
    request: Request, session: DbSession, principal: Manager, code: str, once: FormOnce,
    form: SubmittedForm,
) -> Response:  # fmt: skip
    plan = service.get_plan(session, code)

    def text(key: str) -> str:
        return str(form.get(key) or "").strip()

    try:
        document = PlanDocument.model_validate({
            "title": text("title"), "kind": text("kind"), "issuer": text("issuer"),
            "document_number": text("document_number"), "issued_on": text("issued_on") or None,
            "period": (text("start_year"), text("end_year")), "city": text("city"),
            "region": text("region"), "summary": text("summary"),
            "goals": [g.strip() for g in text("goals").splitlines() if g.strip()],
            "source": text("source"),
        })  # fmt: skip
        service.edit_document(session, actor_of(principal), code, document)
    except (CitybaseError, ValidationError) as exc:
        return _document_page(request, plan, form, failure(session, exc), 422)
    return once.redirect(session, f"/console/cockpit/plans/{quote(code)}")


add_translations("zh", {
    "choose a plan file": "请选择规划文件",
    "a plan file is a mapping (code: …)": "规划文件应为 YAML 映射（每行“键: 值”）",
})  # fmt: skip
add_patterns("zh", {
    r"no plan (.+)": "未找到规划 {0}",
    r"line (\d+) (\S*): (.+)": "第 {0} 行 {1}：{2}",
    r"not YAML: .*": "不是有效的 YAML 文件",
})  # fmt: skip

# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"indicator (.+?) holds reported values: it cannot be removed": "指标 {0} 已有填报数值，不能删除",
    r"task (.+?) holds monthly updates: it cannot be removed": "任务 {0} 已有月度进展，不能删除",
    r"target year (.+?) is outside the plan's (.+?)–(.+?)": "目标年份 {0} 不在规划期 {1}–{2} 内",
    r"plan (.+?) already has an indicator (.+?)": "规划 {0} 已有指标 {1}",
    r"plan (.+?) already has a task (.+?)": "规划 {0} 已有任务 {1}",
})  # fmt: skip
