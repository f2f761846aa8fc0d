"""Plans: loaded from YAML files, whole or not at all, with every problem named by line and
field; and the overview of every plan's indicators and tasks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.cockpit.indicators import measures
from citybase.cockpit.indicators import service as indicators
from citybase.cockpit.indicators.schemas import IndicatorRead, IndicatorSpec, Progress
from citybase.cockpit.plans import repository
from citybase.cockpit.plans.models import Plan
from citybase.cockpit.plans.schemas import (
    ImportResult,
    PlanDocument,
    PlanFile,
    PlanRead,
    Problem,
)
from citybase.cockpit.tasks import service as tasks
from citybase.cockpit.tasks.schemas import MissingUpdate, TaskRead, TaskSpec
from citybase.core.errors import Conflict, InvalidInput, NotFound
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs

# --- reading a plan file -----------------------------------------------------------------------


def _lines(text: str) -> tuple[dict[tuple[str, ...], int], list[Problem]]:
    """Path in the document (keys and list indexes, as text) → the line it starts on; and the
    keys given twice in one mapping (YAML would quietly keep the last: a target year written
    twice is a mistake to show, not to guess)."""
    lines: dict[tuple[str, ...], int] = {}
    twice: list[Problem] = []

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                name = str(key.value)
                if name in seen:
                    twice.append(Problem(line=key.start_mark.line + 1,
                                         field=".".join((*path, name)),
                                         message=f"{name} is given twice"))  # fmt: skip
                seen.add(name)
                lines.setdefault((*path, name), key.start_mark.line + 1)
                walk(value, (*path, name))
        elif isinstance(node, yaml.SequenceNode):
            for n, item in enumerate(node.value):
                walk(item, (*path, str(n)))

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, ())
    return lines, twice


def _line_of(lines: dict[tuple[str, ...], int], loc: tuple[Any, ...]) -> int | None:
    path = tuple(str(p) for p in loc)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def parse(text: str) -> tuple[PlanFile | None, list[Problem], dict[tuple[str, ...], int]]:
    """A plan file read and checked against the format, or the problems that stop it."""
    try:
        data = yaml.safe_load(text)
        lines, twice = _lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        return None, [Problem(line=line, field="", message=f"not YAML: {reason}")], {}
    if not isinstance(data, dict):
        return None, [Problem(line=1, field="", message="a plan file is a mapping (code: …)")], {}
    if twice:
        return None, twice, lines
    try:
        return PlanFile.model_validate(data), [], lines
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if not str(p).startswith("function-"))
            problems.append(Problem(line=_line_of(lines, loc),
                                    field=".".join(str(p) for p in loc),
                                    message=error["msg"].removeprefix("Value error, ")))  # fmt: skip
        return None, problems, lines


@dataclass
class _Units:
    """Unit references as plans write them — a code, a full name or a short name (市大数据委)."""

    by_ref: dict[str, str]

    @classmethod
    def load(cls, session: Session) -> _Units:
        refs: dict[str, str] = {}
        for unit in orgs.list_units(session):
            for ref in (unit.code, unit.name, unit.short_name):
                if ref:
                    refs.setdefault(ref.strip(), unit.code)
        return cls(refs)

    def resolve(self, refs: list[str], where: tuple[str, ...], problems: list[Problem],
                lines: dict[tuple[str, ...], int]) -> list[str]:  # fmt: skip
        codes = []
        for n, ref in enumerate(refs):
            code = self.by_ref.get(ref.strip())
            if code is None:
                problems.append(Problem(line=_line_of(lines, (*where, str(n))),
                                        field=".".join((*where, str(n))),
                                        message=f"no unit {ref!r} in the organisation register"))  # fmt: skip
            elif code not in codes:
                codes.append(code)
        return codes


def _check(
    session: Session, plan: PlanFile, lines: dict[tuple[str, ...], int]
) -> tuple[list[Problem], list[list[str]], list[list[str]], list[list[str]]]:
    """What the format cannot tell: known region and units, unique codes, years in the plan."""
    problems: list[Problem] = []

    def problem(loc: tuple[str, ...], message: str) -> None:
        problems.append(Problem(line=_line_of(lines, loc), field=".".join(loc), message=message))

    if plan.region:
        try:
            orgs.get_region(session, plan.region)
        except NotFound:
            problem(("region",), f"no region {plan.region!r} in the organisation register")
    start, end = plan.period
    seen: set[str] = set()
    for n, ind in enumerate(plan.indicators):
        where = ("indicators", str(n))
        if ind.code in seen:
            problem((*where, "code"), f"indicator {ind.code} is given twice")
        seen.add(ind.code)
        wrong = ind.measure and measures.problem_with(ind.measure, ind.unit)
        if wrong:
            problem((*where, "measure"), wrong)
        for year in ind.targets:
            if not start - 1 <= year <= end + 1:
                problem((*where, "targets", str(year)),
                        f"target year {year} is outside the plan's {start}–{end}")  # fmt: skip
    numbers: set[str] = set()
    for n, task in enumerate(plan.tasks):
        if task.number in numbers:
            problem(("tasks", str(n), "number"), f"task {task.number} is given twice")
        numbers.add(task.number)
    units = _Units.load(session)
    reporting = [units.resolve(i.units, ("indicators", str(n), "units"), problems, lines)
                 for n, i in enumerate(plan.indicators)]  # fmt: skip
    leads = [units.resolve(t.lead, ("tasks", str(n), "lead"), problems, lines)
             for n, t in enumerate(plan.tasks)]  # fmt: skip
    supports = [units.resolve(t.support, ("tasks", str(n), "support"), problems, lines)
                for n, t in enumerate(plan.tasks)]  # fmt: skip
    existing = repository.by_code(session, plan.code)
    if existing is not None:
        for code in indicators.blocked_removals(session, existing.id, seen):
            problem(("indicators",), f"indicator {code} holds reported values: keep it")
        for number in tasks.blocked_removals(session, existing.id, numbers):
            problem(("tasks",), f"task {number} holds monthly updates: keep it")
    return problems, reporting, leads, supports


def import_plans(
    session: Session, actor: Actor, files: list[tuple[str, str]]
) -> list[ImportResult]:
    """Load plan files (name, text): all of them, or — when anything in any is wrong — none,
    with every problem named by file, line and field. Loading a plan again updates it:
    indicators by code and tasks by number keep their values and updates."""
    checked = []
    results = []
    for filename, text in files:
        result = ImportResult(file=filename)
        plan, problems, lines = parse(text)
        if plan is not None:
            result.plan_code = plan.code
            problems, reporting, leads, supports = _check(session, plan, lines)
            checked.append((result, plan, reporting, leads, supports))
        result.problems = problems
        results.append(result)
    codes = [plan.code for _, plan, *_ in checked]
    for result, plan, *_ in checked:
        if codes.count(plan.code) > 1:
            result.problems.append(Problem(line=None, field="code",
                                           message=f"plan {plan.code} is in two of the files"))  # fmt: skip
    if any(r.problems for r in results):
        return results
    for result, plan, reporting, leads, supports in checked:
        _apply(session, actor, result, plan, reporting, leads, supports)
    return results


def import_plan(session: Session, actor: Actor, filename: str, text: str) -> ImportResult:
    """One plan file, whole or not at all (see ``import_plans``)."""
    return import_plans(session, actor, [(filename, text)])[0]


def _apply(
    session: Session,
    actor: Actor,
    result: ImportResult,
    plan: PlanFile,
    reporting: list[list[str]],
    leads: list[list[str]],
    supports: list[list[str]],
    edited: str = "",
) -> None:
    row = repository.by_code(session, plan.code)
    if row is None:
        row = Plan(code=plan.code, revision=0)
    row.title, row.kind, row.issuer = plan.title, plan.kind, plan.issuer
    row.document_number, row.issued_on = plan.document_number, plan.issued_on
    row.start_year, row.end_year = plan.period
    row.city, row.region_code = plan.city, plan.region
    row.summary, row.goals = plan.summary, list(plan.goals)
    row.source, row.imported_by = plan.source or result.file, actor.name
    row.revision += 1
    repository.add(session, row)
    indicators.define(session, row.id, plan.indicators, reporting)
    tasks.define(session, row.id, plan.tasks, leads, supports)
    details: dict[str, Any] = {"revision": row.revision, "indicators": len(plan.indicators),
                               "tasks": len(plan.tasks)}  # fmt: skip
    details |= {"what": edited} if edited else {"file": result.file}
    ledger.record(session, actor, "cockpit.plan.edited" if edited else "cockpit.plan.imported",
                  object_type="plan", object_id=plan.code, details=details)  # fmt: skip
    result.revision, result.applied = row.revision, True
    result.indicators, result.tasks = len(plan.indicators), len(plan.tasks)


# --- reading plans -----------------------------------------------------------------------------


def list_plans(session: Session) -> list[PlanRead]:
    """The city's own plans first (those of a city in the register), then by first year."""
    plans = [PlanRead.model_validate(p) for p in repository.all_plans(session)]
    return sorted(plans, key=lambda p: (p.region_code == "", p.start_year, p.code))


def get_plan(session: Session, code: str) -> PlanRead:
    plan = repository.by_code(session, code)
    if plan is None:
        raise NotFound(f"no plan {code}", field="code")
    return PlanRead.model_validate(plan)


def get_plan_by_id(session: Session, plan_id: int) -> PlanRead:
    return PlanRead.model_validate(_plan_row(session, plan_id))


@dataclass(frozen=True)
class PlanProgress:
    plan: PlanRead
    indicators: list[Progress]
    tasks: list[TaskRead]


def overview(
    session: Session, codes: list[str] | None = None, today: date | None = None
) -> list[PlanProgress]:
    """Every plan (or those named) with where each indicator stands and its tasks."""
    plans = [p for p in list_plans(session) if not codes or p.code in codes]
    if codes:
        missing = sorted(set(codes) - {p.code for p in plans})
        if missing:
            raise NotFound(f"no plan {', '.join(missing)}", field="plan")
    ids = [p.id for p in plans]
    progress = indicators.progress(session, ids, today)
    task_lists = tasks.list_for(session, ids, today)
    return [PlanProgress(p, progress.get(p.id, []), task_lists.get(p.id, [])) for p in plans]


def missing_updates(
    session: Session, today: date | None = None, update_day: int = 5
) -> list[MissingUpdate]:
    """Lead units whose monthly task update is overdue, over every plan."""
    plans = {p.id: (p.code, p.start_year, p.end_year) for p in list_plans(session)}
    return tasks.missing_updates(session, plans, today, update_day)


# --- editing in the console --------------------------------------------------------------------


def _as_file(session: Session, code: str) -> PlanFile:
    """The plan as it stands, as the file that would load it."""
    [found] = overview(session, [code])
    plan = found.plan
    return PlanFile.model_validate({
        "code": plan.code, "title": plan.title, "kind": plan.kind, "issuer": plan.issuer,
        "document_number": plan.document_number, "issued_on": plan.issued_on,
        "period": (plan.start_year, plan.end_year), "city": plan.city, "region": plan.region_code,
        "summary": plan.summary, "goals": plan.goals, "source": plan.source,
        "indicators": [indicators.spec_of(i.indicator) for i in found.indicators],
        "tasks": [tasks.spec_of(t) for t in found.tasks],
    })  # fmt: skip


def export_plan(session: Session, code: str) -> str:
    """The plan as a plan file: loading it again changes nothing but the revision."""
    dump = _as_file(session, code).model_dump(mode="json", exclude_defaults=True)
    data = {"code": dump.pop("code"), **dump}  # the code first, as a person writes the file
    for ind in data.get("indicators", []):
        for key in ("targets", "province_targets"):
            if key in ind:
                ind[key] = {int(y): _plain(v) for y, v in ind[key].items()}
        if "baseline" in ind:
            ind["baseline"]["value"] = _plain(ind["baseline"]["value"])
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def _plain(value: float) -> float | int:
    """98.0 written as 98, as a person writes it."""
    return int(value) if float(value).is_integer() else value


def _plan_row(session: Session, plan_id: int) -> Plan:
    row = repository.by_id(session, plan_id)
    if row is None:
        raise NotFound(f"no plan {plan_id}", field="plan")
    return row


def _plan_row_by_code(session: Session, code: str) -> Plan:
    row = repository.by_code(session, code)
    if row is None:
        raise NotFound(f"no plan {code}", field="code")
    return row


def _units_or_fail(units: _Units, refs: list[str], field: str) -> list[str]:
    problems: list[Problem] = []
    codes = units.resolve(refs, (field,), problems, {})
    if problems:
        raise InvalidInput(problems[0].message, field=field)
    return codes


def _revised(session: Session, actor: Actor, row: Plan, action: str, what: str) -> None:
    row.revision += 1
    session.flush()
    ledger.record(session, actor, action, object_type="plan", object_id=row.code,
                  details={"revision": row.revision, "what": what})  # fmt: skip


def _replace(session: Session, actor: Actor, plan: PlanFile, what: str) -> None:
    """Put a changed plan in place of the current one, checked as a loaded file is."""
    problems, reporting, leads, supports = _check(session, plan, {})
    if problems:
        raise InvalidInput("; ".join(f"{p.field}: {p.message}" for p in problems),
                           field=problems[0].field,
                           problems=[p.model_dump(exclude={"line"}) for p in problems])  # fmt: skip
    result = ImportResult(file=f"{plan.code}.yaml", plan_code=plan.code)
    _apply(session, actor, result, plan, reporting, leads, supports, edited=what)


def document_of(session: Session, code: str) -> PlanDocument:
    """What the plan's document says of itself, as ``edit_document`` takes it."""
    fields = set(PlanDocument.model_fields)
    return PlanDocument.model_validate(_as_file(session, code).model_dump(include=fields))


def edit_document(session: Session, actor: Actor, code: str, document: PlanDocument) -> PlanRead:
    """Change what the plan's document says of itself (title, issuer, period, goals, …); its
    indicators and tasks stay as they are, and their target years must still lie in the period."""
    current = _as_file(session, code)
    plan = PlanFile.model_validate(current.model_dump() | document.model_dump())
    _replace(session, actor, plan, "document")
    return get_plan(session, code)


def add_indicator(session: Session, actor: Actor, code: str, spec: IndicatorSpec) -> IndicatorRead:
    """A new indicator at the end of the plan."""
    current = _as_file(session, code)
    if any(i.code == spec.code for i in current.indicators):
        raise Conflict(f"plan {code} already has an indicator {spec.code}", field="code")
    plan = current.model_copy(update={"indicators": [*current.indicators, spec]})
    _replace(session, actor, plan, f"indicator {spec.code} added")
    row = _plan_row_by_code(session, code)
    return next(i for i in indicators.list_for(session, row.id) if i.code == spec.code)


def remove_indicator(session: Session, actor: Actor, indicator_id: int) -> None:
    """Take an indicator out of its plan; one that holds reported values stays."""
    ind = indicators.get(session, indicator_id)
    row = _plan_row(session, ind.plan_id)
    current = _as_file(session, row.code)
    keep = [i for i in current.indicators if i.code != ind.code]
    if indicators.blocked_removals(session, row.id, {i.code for i in keep}):
        raise Conflict(f"indicator {ind.code} holds reported values: it cannot be removed",
                       field="indicator")  # fmt: skip
    _replace(session, actor, current.model_copy(update={"indicators": keep}),
             f"indicator {ind.code} removed")  # fmt: skip


def add_task(session: Session, actor: Actor, code: str, spec: TaskSpec) -> TaskRead:
    """A new task at the end of the plan."""
    current = _as_file(session, code)
    if any(t.number == spec.number for t in current.tasks):
        raise Conflict(f"plan {code} already has a task {spec.number}", field="number")
    _replace(session, actor, current.model_copy(update={"tasks": [*current.tasks, spec]}),
             f"task {spec.number} added")  # fmt: skip
    row = _plan_row_by_code(session, code)
    found = tasks.list_for(session, [row.id]).get(row.id, [])
    return next(t for t in found if t.number == spec.number)


def remove_task(session: Session, actor: Actor, task_id: int) -> None:
    """Take a task out of its plan; one that holds monthly updates stays."""
    task = tasks.get(session, task_id)
    row = _plan_row(session, task.plan_id)
    current = _as_file(session, row.code)
    keep = [t for t in current.tasks if t.number != task.number]
    if tasks.blocked_removals(session, row.id, {t.number for t in keep}):
        raise Conflict(f"task {task.number} holds monthly updates: it cannot be removed",
                       field="task")  # fmt: skip
    _replace(session, actor, current.model_copy(update={"tasks": keep}),
             f"task {task.number} removed")  # fmt: skip


def edit_indicator(
    session: Session, actor: Actor, indicator_id: int, spec: IndicatorSpec
) -> IndicatorRead:
    """Change one indicator's definition from the console, checked as a plan file is."""
    current = indicators.get(session, indicator_id)
    row = _plan_row(session, current.plan_id)
    for year in spec.targets:
        if not row.start_year - 1 <= year <= row.end_year + 1:
            raise InvalidInput(f"target year {year} is outside the plan's "
                               f"{row.start_year}–{row.end_year}", field="targets")  # fmt: skip
    wrong = spec.measure and measures.problem_with(spec.measure, spec.unit)
    if wrong:
        raise InvalidInput(wrong, field="measure")
    codes = _units_or_fail(_Units.load(session), spec.units, "units")
    changed = indicators.redefine(session, indicator_id, spec, codes)
    _revised(session, actor, row, "cockpit.indicator.edited", current.code)
    return changed


def edit_task(session: Session, actor: Actor, task_id: int, spec: TaskSpec) -> TaskRead:
    """Change one task's definition from the console, checked as a plan file is."""
    current = tasks.get(session, task_id)
    row = _plan_row(session, current.plan_id)
    units = _Units.load(session)
    lead = _units_or_fail(units, spec.lead, "lead")
    support = _units_or_fail(units, spec.support, "support")
    changed = tasks.redefine(session, task_id, spec.model_copy(update={"number": current.number}),
                             lead, support)  # fmt: skip
    _revised(session, actor, row, "cockpit.task.edited", current.number)
    return changed


def send_reminders(session: Session, today: date | None = None, update_day: int = 5) -> int:
    """Remind every lead unit whose monthly task update is late (once per task and month)."""
    return tasks.send_reminders(session, missing_updates(session, today, update_day))
