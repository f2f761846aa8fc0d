"""The yearly assessment (年度考核): every unit named by a plan in force in the year, scored on
the indicators it reports, the tasks it leads and the monthly updates it sent, by the weighting
the bureau sets for the year (a default stands until it does)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from citybase.cockpit.assessment import repository
from citybase.cockpit.assessment.models import AssessmentRules
from citybase.cockpit.assessment.schemas import Assessment, Item, RulesIn, RulesRead, UnitResult
from citybase.cockpit.indicators import service as indicators
from citybase.cockpit.plans import service as plans
from citybase.cockpit.plans.auth import COCKPIT_MANAGE
from citybase.cockpit.tasks import service as tasks
from citybase.core import clock
from citybase.core.errors import Forbidden, InvalidInput
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.orgs import service as orgs

FIRST_YEAR, LAST_YEAR = 2000, 2100
PARTS = {"indicators": "indicator", "tasks": "task", "updates": "updates"}  # part → item kind


def _check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInput(f"a year between {FIRST_YEAR} and {LAST_YEAR}", field="year")


def rules_for(session: Session, year: int) -> RulesRead:
    """The year's weighting: the bureau's, or the default while it has set none."""
    _check_year(year)
    row = repository.rules_of(session, year)
    if row is None:
        return RulesRead(year=year)
    return RulesRead.model_validate(
        {**row.rules, "note": row.note, "year": year, "set_by": row.set_by, "set_at": row.set_at}
    )


def set_rules(session: Session, principal: Principal, year: int, data: RulesIn) -> RulesRead:
    """The bureau sets how the year is weighed; the change is on the ledger with the rules it
    replaced."""
    if not principal.can(COCKPIT_MANAGE):
        raise Forbidden("the assessment's weighting is the bureau's")
    _check_year(year)
    known = {p.code for p in plans.list_plans(session)}
    unknown = sorted(set(data.plan_weights) - known)
    if unknown:
        raise InvalidInput(f"no plan {', '.join(unknown)}", field="plan_weights")
    row = repository.rules_of(session, year)
    before = rules_for(session, year).model_dump(mode="json", exclude={"year", "set_by", "set_at"})
    rules = data.model_dump(mode="json", exclude={"note"})
    if row is None:
        row = AssessmentRules(year=year, rules=rules, note=data.note, set_by=principal.username,
                              set_at=datetime.now(UTC))  # fmt: skip
    else:
        row.rules, row.note = rules, data.note
        row.set_by, row.set_at = principal.username, datetime.now(UTC)
    repository.add(session, row)
    ledger.record(
        session, actor_of(principal), "cockpit.assessment.rules_set", object_type="assessment",
        object_id=year, reason=data.note,
        details={"before": before, "after": data.model_dump(mode="json")},
    )  # fmt: skip
    return rules_for(session, year)


def _mean(items: list[Item]) -> float | None:
    weight = sum(i.weight for i in items)
    return sum(i.score * i.weight for i in items) / weight if weight else None


def assess(
    session: Session, year: int, today: date | None = None, update_day: int = 5
) -> Assessment:
    """Score every unit for the year, by the year's rules: each part is the weighted mean of
    its items' scores (an item weighs as its plan does), the total the parts' mean by the
    bureau's part weights, over the parts that have items; ranked best first."""
    rules = rules_for(session, year)
    today = today or clock.today()
    as_of = min(today, date(year, 12, 31))
    in_force = [p for p in plans.list_plans(session)
                if p.start_year <= year <= p.end_year
                and rules.plan_weights.get(p.code, 1.0) > 0]  # fmt: skip
    weight = {p.id: rules.plan_weights.get(p.code, 1.0) for p in in_force}
    by_id = {p.id: p for p in in_force}
    items: dict[str, list[Item]] = defaultdict(list)

    defined = [i for p in in_force for i in indicators.list_for(session, p.id)]
    standing = indicators.standing_in_year(session, [i.id for i in defined], year)
    scores = rules.indicator_scores.model_dump()
    for ind in defined:
        status, value = standing[ind.id]
        state = "unreported" if value is None else status.value
        plan = by_id[ind.plan_id]
        detail = "" if value is None else f"{value.period}: {value.value:g}"
        for unit in ind.units:
            items[unit].append(Item(
                kind="indicator", plan_code=plan.code, plan_title=plan.title, ref=ind.id,
                name=ind.name, state=state, detail=detail,
                score=scores.get(state, scores["unreported"]), weight=weight[plan.id],
            ))  # fmt: skip

    periods = {p.id: (p.start_year, p.end_year) for p in in_force}
    task_scores = rules.task_scores.model_dump()
    for s in tasks.year_standing(session, periods, year, today, update_day):
        plan = by_id[s.task.plan_id]
        for unit in s.task.lead_units:
            items[unit].append(Item(
                kind="task", plan_code=plan.code, plan_title=plan.title, ref=s.task.id,
                name=f"{s.task.number} {s.task.title}", state=s.state, detail=s.detail,
                score=task_scores[s.state], weight=weight[plan.id],
            ))  # fmt: skip
            due = s.expected.get(unit, 0)
            if due:
                sent = s.sent.get(unit, 0)
                items[unit].append(Item(
                    kind="updates", plan_code=plan.code, plan_title=plan.title, ref=s.task.id,
                    name=f"{s.task.number} {s.task.title}", state=f"{sent}/{due}",
                    detail=f"{sent}/{due}", score=100.0 * sent / due, weight=weight[plan.id],
                ))  # fmt: skip

    names = orgs.unit_names(session, items)
    parts = rules.parts
    results = []
    for unit, mine in items.items():
        part = {p: _mean([i for i in mine if i.kind == kind]) for p, kind in PARTS.items()}
        weighed = [(getattr(parts, k), v) for k, v in part.items() if v is not None]
        total_weight = sum(w for w, _ in weighed)
        total = sum(w * v for w, v in weighed) / total_weight if total_weight else None
        results.append(UnitResult(
            unit_code=unit, name=names.get(unit, unit), indicators=part["indicators"],
            tasks=part["tasks"], updates=part["updates"], total=total, rank=None, items=mine,
        ))  # fmt: skip
    results.sort(key=lambda r: (r.total is None, -(r.total or 0.0), r.name))
    rank = 0
    for n, r in enumerate(results):
        if r.total is None:
            break
        if n == 0 or r.total != results[n - 1].total:
            rank = n + 1
        r.rank = rank
    return Assessment(year=year, as_of=as_of, rules=rules, plans=[p.code for p in in_force],
                      units=results)  # fmt: skip
