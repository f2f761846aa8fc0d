"""Tasks: what each plan asks of which units, their milestones, and the monthly updates the
units send (一月一更新), with what is overdue and who has not reported."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from citybase.cockpit.plans.auth import COCKPIT_MANAGE, COCKPIT_REPORT
from citybase.cockpit.tasks import repository
from citybase.cockpit.tasks.models import Task, TaskReminder, TaskUpdate
from citybase.cockpit.tasks.schemas import (
    Milestone,
    MissingUpdate,
    TaskRead,
    TaskSpec,
    TaskStatus,
    UpdateCreate,
    UpdateMissing,
    UpdateRead,
)
from citybase.core import clock
from citybase.core.bus import service as bus
from citybase.core.errors import Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor


def _apply(task: Task, spec: TaskSpec, lead: list[str], support: list[str], order: int) -> None:
    done = {m["title"]: m.get("done_on") for m in task.milestones or []}
    task.title, task.summary, task.category = spec.title, spec.summary, spec.category
    task.lead_units, task.support_units, task.due = lead, support, spec.due
    task.targets, task.other_units = list(spec.targets), list(spec.others)
    task.source = spec.source.model_dump() if spec.source else None
    task.milestones = [
        {"title": m.title, "due": m.due.isoformat(), "done_on": done.get(m.title)}
        for m in spec.milestones
    ]
    task.sort_order = order


def define(
    session: Session,
    plan_id: int,
    specs: list[TaskSpec],
    leads: list[list[str]],
    supports: list[list[str]],
) -> int:
    """Make the plan's tasks what ``specs`` say (units resolved to codes): update by number,
    add the new, drop the gone (callers check ``blocked_removals`` first). Milestones already
    met stay met."""
    existing = {t.number: t for t in repository.of_plans(session, [plan_id])}
    for order, (spec, lead, support) in enumerate(zip(specs, leads, supports, strict=True)):
        task = existing.pop(spec.number, None) or Task(plan_id=plan_id, number=spec.number)
        _apply(task, spec, lead, support, order)
        repository.add(session, task)
    for gone in existing.values():
        repository.delete(session, gone)
    return len(specs)


def redefine(
    session: Session, task_id: int, spec: TaskSpec, lead: list[str], support: list[str]
) -> TaskRead:
    """One task's definition changed in place (its number, updates and order stay)."""
    task = _get(session, task_id)
    _apply(task, spec, lead, support, task.sort_order)
    session.flush()
    return _read(task, clock.today())


def spec_of(task: TaskRead) -> TaskSpec:
    """The task as a plan file states it (for editing and for export)."""
    return TaskSpec.model_validate({
        "number": task.number, "title": task.title, "summary": task.summary,
        "category": task.category, "lead": list(task.lead_units),
        "support": list(task.support_units), "others": list(task.other_units), "due": task.due,
        "targets": list(task.targets), "source": task.source,
        "milestones": [{"title": m.title, "due": m.due} for m in task.milestones],
    })  # fmt: skip


def blocked_removals(session: Session, plan_id: int, keep: Iterable[str]) -> list[str]:
    """The numbers of tasks a new version of the plan leaves out but that hold updates."""
    wanted = set(keep)
    return [
        t.number
        for t in repository.of_plans(session, [plan_id])
        if t.number not in wanted and repository.count_updates(session, t.id)
    ]


def _read(task: Task, today: date) -> TaskRead:
    milestones = []
    for m in task.milestones or []:
        due = date.fromisoformat(m["due"])
        done_on = date.fromisoformat(m["done_on"]) if m.get("done_on") else None
        milestones.append(
            Milestone(
                title=m["title"], due=due, done_on=done_on, overdue=done_on is None and due < today
            )
        )
    read = TaskRead.model_validate(task).model_copy(update={"milestones": milestones})
    late = task.due is not None and task.due < today and task.status != TaskStatus.done
    return read.model_copy(update={"overdue": late or any(m.overdue for m in milestones)})


def list_for(
    session: Session, plan_ids: Iterable[int], today: date | None = None
) -> dict[int, list[TaskRead]]:
    out: dict[int, list[TaskRead]] = defaultdict(list)
    for task in repository.of_plans(session, plan_ids):
        out[task.plan_id].append(_read(task, today or clock.today()))
    return dict(out)


def _get(session: Session, task_id: int) -> Task:
    task = repository.get(session, task_id)
    if task is None:
        raise NotFound(f"no task {task_id}", field="task")
    return task


def get(session: Session, task_id: int, today: date | None = None) -> TaskRead:
    return _read(_get(session, task_id), today or clock.today())


def updates_in(
    session: Session, task_ids: Iterable[int], period: str
) -> dict[int, list[UpdateRead]]:
    """The updates sent for ``period`` on each of the tasks, in one look-up."""
    out: dict[int, list[UpdateRead]] = defaultdict(list)
    for u in repository.updates(session, task_ids, period):
        out[u.task_id].append(UpdateRead.model_validate(u))
    return dict(out)


def updates(session: Session, task_id: int) -> list[UpdateRead]:
    _get(session, task_id)
    return [UpdateRead.model_validate(u) for u in repository.updates(session, [task_id])]


def report_update(
    session: Session,
    principal: Principal,
    task_id: int,
    data: UpdateCreate,
    today: date | None = None,
) -> UpdateRead:
    """A lead or support unit's word on a task for a month; sent again for the same month, it
    replaces the first. A lead unit's update sets the task's status and progress."""
    today = today or clock.today()
    task = _get(session, task_id)
    unit = principal.unit_code
    ours = unit in task.lead_units or unit in task.support_units
    if not (ours and principal.can(COCKPIT_REPORT)) and not principal.can(COCKPIT_MANAGE):
        raise Forbidden(f"task {task.number} is reported by "
                        f"{', '.join(task.lead_units + task.support_units)}")  # fmt: skip
    year, month = map(int, data.period.split("-"))
    if (year, month) > (today.year, today.month):
        raise InvalidInput(f"{data.period} is still to come (today is {today})", field="period")
    titles = {m["title"] for m in task.milestones or []}
    unknown = [t for t in data.milestones_done if t not in titles]
    if unknown:
        raise InvalidInput(f"task {task.number} has no milestone {', '.join(unknown)}",
                           field="milestones_done")  # fmt: skip
    update = repository.update_of(session, task.id, data.period, unit) or TaskUpdate(
        task_id=task.id, period=data.period, unit_code=unit
    )
    update.text, update.progress, update.status = data.text, data.progress, data.status
    update.problems, update.milestones_done = data.problems, list(data.milestones_done)
    update.reported_by, update.reported_at = principal.username, datetime.now(UTC)
    repository.add(session, update)
    if data.milestones_done:
        task.milestones = [
            m | ({"done_on": m.get("done_on") or today.isoformat()}
                 if m["title"] in data.milestones_done else {})
            for m in task.milestones
        ]  # fmt: skip
    if unit in task.lead_units or principal.can(COCKPIT_MANAGE):
        task.status, task.progress = data.status, data.progress
    session.flush()
    ledger.record(
        session, actor_of(principal), "cockpit.task.updated", object_type="task",
        object_id=task.id, details={"period": data.period, "progress": data.progress,
                                    "status": data.status, "milestones": data.milestones_done},
    )  # fmt: skip
    return UpdateRead.model_validate(update)


def due_month(today: date, update_day: int) -> tuple[str, date]:
    """The latest month whose update is due by now, and its deadline: a month's update is due
    by ``update_day`` of the next month."""
    year, month = today.year, today.month
    if today.day < update_day:  # this month's deadline (for last month) has not come
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    deadline = date(year, month, update_day)
    reported = (year, month - 1) if month > 1 else (year - 1, 12)
    return f"{reported[0]}-{reported[1]:02d}", deadline


def missing_updates(
    session: Session,
    plans: dict[int, tuple[str, int, int]],
    today: date | None = None,
    update_day: int = 5,
) -> list[MissingUpdate]:
    """Lead units that have not sent the month's update on an unfinished task of a plan in
    force (``plans``: id → code, first year, last year), the month's deadline having passed."""
    period, deadline = due_month(today or clock.today(), update_day)
    year = int(period[:4])
    in_force = {i for i, (_, first, last) in plans.items() if first <= year <= last}
    tasks = [t for t in repository.of_plans(session, in_force) if t.status != TaskStatus.done]
    sent = {(u.task_id, u.unit_code)
            for u in repository.updates(session, [t.id for t in tasks], period)}  # fmt: skip
    reminded = repository.reminders(session, period)
    return [
        MissingUpdate(
            task_id=t.id,
            plan_code=plans[t.plan_id][0],
            number=t.number,
            title=t.title,
            unit_code=unit,
            period=period,
            due=deadline,
            reminded_at=reminded[(t.id, unit)].sent_at if (t.id, unit) in reminded else None,
        )
        for t in tasks
        for unit in t.lead_units
        if (t.id, unit) not in sent
    ]


def send_reminders(session: Session, missing: list[MissingUpdate]) -> int:
    """Remind each lead unit whose update is late, once per task and month: the reminder is
    kept, published on the bus and written to the ledger. Returns how many were sent."""
    fresh = [m for m in missing if m.reminded_at is None]
    now = datetime.now(UTC)
    for m in fresh:
        repository.add(session, TaskReminder(task_id=m.task_id, unit_code=m.unit_code,
                                             period=m.period, sent_at=now))  # fmt: skip
        bus.publish(session, UpdateMissing(**m.model_dump(exclude={"reminded_at"})))
        ledger.record(
            session, Actor.system("cockpit"), "cockpit.task.reminded", object_type="task",
            object_id=m.task_id, details={"unit": m.unit_code, "period": m.period,
                                          "due": m.due.isoformat()},
        )  # fmt: skip
    return len(fresh)


# --- a year's standing, for the yearly assessment ----------------------------------------------


@dataclass(frozen=True)
class YearStanding:
    """A task at the end of a year (or today, within it): ``state`` is done_on_time, done_late,
    on_track or overdue; and the lead units' monthly updates that were due in the year and
    those sent."""

    task: TaskRead
    state: str
    detail: str
    expected: dict[str, int]
    sent: dict[str, int]


def _months(year: int, first: int, last: int) -> list[str]:
    return [f"{year}-{m:02d}" for m in range(first, last + 1)]


def year_standing(
    session: Session,
    plans: dict[int, tuple[int, int]],
    year: int,
    today: date | None = None,
    update_day: int = 5,
) -> list[YearStanding]:
    """Every task of the plans (id → first and last year) that the year assesses: the tasks
    finished before the year are left out. A past year is read from the lead units' updates
    (the status they gave by December); the current year from the task as it stands."""
    today = today or clock.today()
    as_of = min(today, date(year, 12, 31))
    current = as_of == today
    reported_to, _ = due_month(today, update_day)  # the last month whose update is due by now
    tasks = repository.of_plans(session, plans)
    by_task: dict[int, list[Any]] = defaultdict(list)
    for u in repository.update_points(session, [t.id for t in tasks]):
        by_task[u.task_id].append(u)
    out = []
    for task in tasks:
        leads = set(task.lead_units)
        if not leads:
            continue
        mine = sorted((u for u in by_task[task.id] if u.unit_code in leads),
                      key=lambda u: u.period)  # fmt: skip
        done_in = next((u.period for u in mine if u.status == TaskStatus.done), None)
        if done_in is not None and done_in < f"{year}-01":
            continue  # finished before the year
        status = task.status if current else next(
            (u.status for u in reversed(mine) if u.period <= f"{year}-12"), TaskStatus.not_started
        )  # fmt: skip
        read = _read(task, as_of)
        if status == TaskStatus.done:
            due_in = f"{task.due.year}-{task.due.month:02d}" if task.due else None
            late = due_in is not None and done_in is not None and done_in > due_in
            state, detail = ("done_late", f"{done_in} > {due_in}") if late else (
                "done_on_time", done_in or "")  # fmt: skip
        elif (task.due is not None and task.due < as_of) or any(
            m.due < as_of and (m.done_on is None or m.done_on > as_of) for m in read.milestones
        ):
            missed = [m.title for m in read.milestones
                      if m.due < as_of and (m.done_on is None or m.done_on > as_of)]  # fmt: skip
            state = "overdue"
            detail = "、".join(missed) if missed else f"{task.due}"
        else:
            state, detail = "on_track", f"{read.progress}%"
        first = 1 if plans[task.plan_id][0] <= year else 13
        last_period = min(f"{year}-12", reported_to, done_in or f"{year}-12")
        months = [m for m in _months(year, first, 12) if m <= last_period]
        sent_periods = {(u.unit_code, u.period) for u in by_task[task.id]}
        expected = {unit: len(months) for unit in task.lead_units}
        sent = {unit: sum((unit, m) in sent_periods for m in months) for unit in task.lead_units}
        out.append(YearStanding(read, state, detail, expected, sent))
    return out
