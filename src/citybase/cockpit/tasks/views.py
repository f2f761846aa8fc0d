"""Console pages of tasks: every plan's tasks with what is overdue and who has not reported,
and one task with its milestones, its monthly updates and the form to send one."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from citybase.cockpit.plans import service as plans
from citybase.cockpit.plans.auth import (
    COCKPIT_MANAGE,
    COCKPIT_READ,
    COCKPIT_REPORT,
    Manager,
    Reader,
    Reporter,
)
from citybase.cockpit.plans.schemas import PlanRead
from citybase.cockpit.tasks import service
from citybase.cockpit.tasks.schemas import TaskRead, TaskSpec, TaskStatus, UpdateCreate
from citybase.core import clock
from citybase.core.errors import CitybaseError, InvalidInput
from citybase.core.identity.service import actor_of
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import SubmittedForm, failure, failure_text, split_list
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.once import FormOnce, FormToken, claim
from citybase.core.web.params import Id
from citybase.core.web.templating import NavEntry, console

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(
    NavEntry("Plan supervision", "Tasks", "/console/cockpit/tasks", COCKPIT_READ, order=2)
)
add_translations(
    "zh",
    {
        "Milestones": "节点", "Monthly updates": "月度进展", "Send this month's update": "报送月度进展",
        "What was done": "本月进展", "Problems and help needed": "困难问题及需协调事项",
        "Milestones met": "已完成节点", "Send": "报送", "Cooperating units": "配合单位",
        "Targets named": "量化目标", "Only my unit's": "只看本单位", "All": "全部",
        "No tasks.": "暂无任务。", "task.not_started": "未启动", "task.in_progress": "推进中",
        "task.done": "已完成", "task.suspended": "暂缓", "Month reported on": "所报月份",
        "Was due": "应报日期", "Everyone has reported.": "均已按时报送。",
        "Reminded": "已提醒", "Edit the task": "编辑任务", "Summary": "任务概述",
        "Lead units (codes or names, comma-separated)": "牵头单位（代码或名称，逗号分隔）",
        "Support units (codes or names, comma-separated)": "配合单位（代码或名称，逗号分隔）",
        "Targets named (one per line)": "量化目标（每行一个）",
        'Milestones (one per line: "2026-06-30 title")': "节点（每行一个：“2026-06-30 名称”）",
        "remove.task": "删除后此任务不再出现在规划中；已有月度进展的任务不能删除。",
    },
)  # fmt: skip
add_translations("en", {
    **{f"task.{s.value}": s.value.replace("_", " ") for s in TaskStatus},
    "remove.task": "Once removed, the task is no longer part of the plan; one that holds monthly "
    "updates cannot be removed.",
})  # fmt: skip


@router.get("/console/cockpit/tasks")
def tasks_page(
    request: Request, session: DbSession, principal: Reader, settings: AppSettings
) -> Response:
    only = request.query_params.get("plan")
    mine = request.query_params.get("mine") == "1"
    overview = plans.overview(session, [only] if only else None)
    rows = [
        (p.plan, t) for p in overview for t in p.tasks
        if not mine or principal.unit_code in t.lead_units + t.support_units
    ]  # fmt: skip
    missing = plans.missing_updates(session, update_day=settings.cockpit.update_day)
    return console.render(request, "cockpit/tasks.html",
                          {"rows": rows, "missing": missing, "mine": mine, "plan": only or ""})  # fmt: skip


@router.get("/console/cockpit/tasks/{task_id}")
def task_page(request: Request, session: DbSession, principal: Reader, task_id: Id) -> Response:
    task = service.get(session, task_id)
    ours = principal.unit_code in task.lead_units + task.support_units
    today = clock.today()
    return console.render(request, "cockpit/task.html", {
        "task": task, "updates": list(reversed(service.updates(session, task_id))),
        "may_update": principal.can(COCKPIT_MANAGE) or (ours and principal.can(COCKPIT_REPORT)),
        "this_month": f"{today.year}-{today.month:02d}", "statuses": list(TaskStatus),
    })  # fmt: skip


@router.post("/console/cockpit/tasks/{task_id}/updates")
def update_submit(
    request: Request, session: DbSession, principal: Reporter, task_id: Id, form: SubmittedForm,
    token: FormToken,
) -> Response:  # fmt: skip
    done = form.get("milestones_done", [])
    form["milestones_done"] = [done] if isinstance(done, str) else done
    here = f"/console/cockpit/tasks/{task_id}"
    try:
        once = claim(request, session, token)
        service.report_update(session, principal, task_id, UpdateCreate.model_validate(form))
    except (CitybaseError, ValidationError) as exc:
        message = failure_text(session, exc)
        return RedirectResponse(f"{here}?error={quote(message)}", status_code=303)
    return once.redirect(session, here)


def _milestones(text: str) -> list[dict[str, str]]:
    """One per line: "2026-06-30 平台上线"."""
    out = []
    for line in (x.strip() for x in text.splitlines() if x.strip()):
        due, _, title = line.partition(" ")
        if not title.strip():
            raise InvalidInput(f"write each milestone as its date and title, not {line!r}",
                               field="milestones")  # fmt: skip
        out.append({"due": due, "title": title.strip()})
    return out


def _task_form(task: TaskRead) -> dict[str, object]:
    return {
        "title": task.title, "summary": task.summary, "category": task.category,
        "lead": ", ".join(task.lead_units), "support": ", ".join(task.support_units),
        "due": task.due.isoformat() if task.due else "", "targets": "\n".join(task.targets),
        "milestones": "\n".join(f"{m.due} {m.title}" for m in task.milestones),
    }  # fmt: skip


def _task_edit(
    request: Request, task: TaskRead | None, form: dict[str, object], errors: dict[str, str],
    status: int = 200, plan: PlanRead | None = None,
) -> Response:  # fmt: skip
    action = (f"/console/cockpit/tasks/{task.id}/edit" if task is not None
              else f"/console/cockpit/plans/{quote(plan.code if plan else '')}/tasks/new")  # fmt: skip
    return console.render(request, "cockpit/task_edit.html", {
        "task": task, "plan": plan, "action": action, "form": form, "errors": errors,
    }, status)  # fmt: skip


def _task_spec(form: dict[str, object], number: str) -> TaskSpec:
    def text(key: str) -> str:
        return str(form.get(key) or "").strip()

    return TaskSpec.model_validate({
        "number": number, "title": text("title"), "summary": text("summary"),
        "category": text("category"), "lead": split_list(text("lead")),
        "support": split_list(text("support")), "due": text("due") or None,
        "targets": [t.strip() for t in text("targets").splitlines() if t.strip()],
        "milestones": _milestones(text("milestones")),
    })  # fmt: skip


@router.get("/console/cockpit/tasks/{task_id}/edit")
def task_edit(request: Request, session: DbSession, principal: Manager, task_id: Id) -> Response:
    task = service.get(session, task_id)
    return _task_edit(request, task, _task_form(task), {})


@router.post("/console/cockpit/tasks/{task_id}/edit")
def task_edit_submit(
    request: Request, session: DbSession, principal: Manager, task_id: Id, once: FormOnce,
    form: SubmittedForm,
) -> Response:  # fmt: skip
    task = service.get(session, task_id)
    try:
        plans.edit_task(session, actor_of(principal), task_id, _task_spec(form, task.number))
    except (CitybaseError, ValidationError) as exc:
        return _task_edit(request, task, form, failure(session, exc), 422)
    return once.redirect(session, f"/console/cockpit/tasks/{task_id}")


@router.get("/console/cockpit/plans/{code}/tasks/new")
def task_add(request: Request, session: DbSession, principal: Manager, code: str) -> Response:
    """A new task for the plan, field by field."""
    return _task_edit(request, None, {}, {}, plan=plans.get_plan(session, code))


@router.post("/console/cockpit/plans/{code}/tasks/new")
def task_add_submit(
    request: Request, session: DbSession, principal: Manager, code: str, form: SubmittedForm,
    token: FormToken,
) -> Response:  # fmt: skip
    plan = plans.get_plan(session, code)
    try:
        once = claim(request, session, token)
        spec = _task_spec(form, str(form.get("number") or "").strip())
        added = plans.add_task(session, actor_of(principal), code, spec)
    except (CitybaseError, ValidationError) as exc:
        return _task_edit(request, None, form, failure(session, exc), 422, plan=plan)
    return once.redirect(session, f"/console/cockpit/tasks/{added.id}")


@router.post("/console/cockpit/tasks/{task_id}/remove")
def task_remove(session: DbSession, principal: Manager, task_id: Id, once: FormOnce) -> Response:
    """Take the task out of its plan (not one that holds monthly updates)."""
    task = service.get(session, task_id)
    plan = plans.get_plan_by_id(session, task.plan_id)
    try:
        plans.remove_task(session, actor_of(principal), task_id)
    except CitybaseError as exc:
        return RedirectResponse(f"/console/cockpit/tasks/{task_id}?error="
                                f"{quote(failure_text(session, exc))}", status_code=303)  # fmt: skip
    return once.redirect(session, f"/console/cockpit/plans/{quote(plan.code)}")


add_patterns("zh", {r"no task (\S+)": "未找到任务 {0}"})

# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"write each milestone as its date and title, not (.+?)": "请逐行按“日期 标题”填写里程碑，而不是 {0}",
    r"task (.+?) has no milestone (.+?)": "任务 {0} 没有里程碑 {1}",
    r"task (.+?) is reported by (.+?)": "任务 {0} 由 {1} 填报",
})  # fmt: skip
