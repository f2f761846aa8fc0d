"""Indicators: their definitions (from plan files), the values units report for them, the
bureau's decisions, and where each stands against its path and its targets."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy.orm import Session

from citybase.cockpit.indicators import measures, repository
from citybase.cockpit.indicators.models import Actual, Indicator
from citybase.cockpit.indicators.schemas import (
    ActualCreate,
    ActualRead,
    ActualStatus,
    Correction,
    Decision,
    Direction,
    IndicatorRead,
    IndicatorSpec,
    Point,
    Progress,
    Status,
)
from citybase.cockpit.plans.auth import COCKPIT_MANAGE, COCKPIT_REPORT
from citybase.core import clock
from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor

BEHIND = 0.1  # yellow while behind the path by less than this share of the whole way


# --- periods and paths (pure) ------------------------------------------------------------------


def period_time(period: str) -> float:
    """A period as a point in time, in years: a year's value stands at its end ("2024" → 2024.0),
    a month's at the month's end ("2024-06" → 2023.5), so that both sit on one axis."""
    year, _, month = period.partition("-")
    return float(year) if not month else int(year) - 1 + int(month) / 12


def _path(ind: Indicator) -> list[tuple[float, float]]:
    points = [(float(y), float(v)) for y, v in ind.targets.items()]
    if ind.baseline_year is not None and ind.baseline_value is not None:
        points.append((float(ind.baseline_year), ind.baseline_value))
    return sorted(points)


def expected_at(ind: Indicator, t: float) -> float | None:
    """Where the straight path from the baseline through the yearly targets stands at ``t``
    (None before its first point: a plan without a baseline has no path before its first
    target)."""
    points = _path(ind)
    if not points or t < points[0][0]:
        return None
    for (t0, v0), (t1, v1) in pairwise(points):
        if t0 <= t <= t1:
            return v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return points[-1][1]


def _better(direction: str, value: float, than: float) -> bool:
    return value >= than if direction == Direction.higher_is_better else value <= than


def completion(direction: str, value: float, target: float) -> float | None:
    """The value against a target, 1.0 when met: value/target, or target/value when less is
    better."""
    if direction == Direction.higher_is_better:
        return value / target if target else None
    return target / value if value > 0 else None


def target_for(ind: Indicator, year: int) -> tuple[int, float] | None:
    """This year's target, else the next one the plan sets, else its last."""
    years = sorted(int(y) for y in ind.targets)
    if not years:
        return None
    chosen = next((y for y in years if y >= year), years[-1])
    return chosen, float(ind.targets[str(chosen)])


def forecast(ind: Indicator, values: list[tuple[float, float]], year: int) -> float | None:
    """The reported trend (least squares through the baseline and the approved values) carried
    to ``year``; None until there are two points in time."""
    points = list(values)
    if ind.baseline_year is not None and ind.baseline_value is not None:
        points.append((float(ind.baseline_year), ind.baseline_value))
    if len({t for t, _ in points}) < 2 or not values:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    slope = sum((t - mean_t) * (v - mean_v) for t, v in points) / sum(
        (t - mean_t) ** 2 for t, _ in points
    )
    return mean_v + slope * (year - mean_t)


def status_of(ind: Indicator, value: float, t: float, target: float | None) -> Status:
    """Green on or ahead of the straight path, yellow behind it by less than a tenth of the
    whole way from baseline to final target, red further behind. With no path at ``t``,
    against the target: met, within a tenth, or not."""
    expected = expected_at(ind, t)
    points = _path(ind)
    span = abs(points[-1][1] - points[0][1]) if points else 0.0
    if expected is not None and span > 0:
        ahead = (
            value - expected if ind.direction == Direction.higher_is_better else expected - value
        )
        if ahead >= -1e-9:
            return Status.green
        return Status.yellow if ahead >= -BEHIND * span else Status.red
    share = completion(ind.direction, value, target) if target is not None else None
    if share is None:
        return Status.none
    if share >= 1 - 1e-9:
        return Status.green
    return Status.yellow if share >= 1 - BEHIND else Status.red


# --- definitions -------------------------------------------------------------------------------


def _range(spec: IndicatorSpec) -> tuple[float | None, float | None]:
    if spec.range is not None:
        return spec.range
    return (0.0, 100.0) if _norm_unit(spec.unit) == "%" else (None, None)


def _apply(ind: Indicator, spec: IndicatorSpec, unit_codes: list[str], order: int) -> None:
    low, high = _range(spec)
    ind.name, ind.measure_unit, ind.category = spec.name, spec.unit, spec.category
    ind.baseline_year = spec.baseline.year if spec.baseline else None
    ind.baseline_value = spec.baseline.value if spec.baseline else None
    ind.targets = {str(y): v for y, v in sorted(spec.targets.items())}
    ind.province_targets = {str(y): v for y, v in sorted(spec.province_targets.items())}
    ind.comparator, ind.direction, ind.nature = spec.comparator, spec.direction, spec.nature
    ind.minimum, ind.maximum, ind.measure = low, high, spec.measure
    ind.units, ind.note, ind.sort_order = unit_codes, spec.note, order
    ind.wording = dict(spec.wording)
    ind.source = spec.source.model_dump() if spec.source else None


def define(
    session: Session, plan_id: int, specs: list[IndicatorSpec], units: list[list[str]]
) -> list[IndicatorRead]:
    """Make the plan's indicators what ``specs`` say (``units``: each one's reporting units,
    resolved to codes): update those that exist by code, add the new, drop the gone (callers
    check first with ``blocked_removals`` that none of those has values)."""
    existing = {i.code: i for i in repository.of_plan(session, plan_id)}
    kept: list[Indicator] = []
    for order, (spec, unit_codes) in enumerate(zip(specs, units, strict=True)):
        ind = existing.pop(spec.code, None) or Indicator(plan_id=plan_id, code=spec.code)
        _apply(ind, spec, unit_codes, order)
        repository.add(session, ind)
        kept.append(ind)
    for gone in existing.values():
        repository.delete(session, gone)
    return [IndicatorRead.model_validate(i) for i in kept]


def redefine(
    session: Session, indicator_id: int, spec: IndicatorSpec, unit_codes: list[str]
) -> IndicatorRead:
    """One indicator's definition changed in place (its code, values and order stay)."""
    ind = _get(session, indicator_id)
    _apply(ind, spec.model_copy(update={"code": ind.code}), unit_codes, ind.sort_order)
    session.flush()
    return IndicatorRead.model_validate(ind)


def spec_of(ind: IndicatorRead) -> IndicatorSpec:
    """The definition as a plan file states it (for editing and for export)."""
    baseline = (
        {"year": ind.baseline_year, "value": ind.baseline_value}
        if ind.baseline_year is not None and ind.baseline_value is not None
        else None
    )
    is_default = (ind.minimum, ind.maximum) == ((0.0, 100.0) if _norm_unit(ind.measure_unit) == "%"
                                                else (None, None))  # fmt: skip
    return IndicatorSpec.model_validate({
        "code": ind.code, "name": ind.name, "unit": ind.measure_unit, "category": ind.category,
        "baseline": baseline, "targets": {int(y): v for y, v in ind.targets.items()},
        "province_targets": {int(y): v for y, v in ind.province_targets.items()},
        "comparator": ind.comparator, "direction": ind.direction, "nature": ind.nature,
        "range": None if is_default or ind.minimum is None or ind.maximum is None
        else (ind.minimum, ind.maximum),
        "measure": ind.measure, "units": list(ind.units), "note": ind.note,
        "wording": dict(ind.wording), "source": ind.source,
    })  # fmt: skip


def blocked_removals(session: Session, plan_id: int, keep: Iterable[str]) -> list[str]:
    """The codes of indicators a new version of the plan leaves out but that hold values."""
    wanted = set(keep)
    return [
        i.code
        for i in repository.of_plan(session, plan_id)
        if i.code not in wanted and repository.count_actuals(session, i.id)
    ]


def list_for(session: Session, plan_id: int) -> list[IndicatorRead]:
    return [IndicatorRead.model_validate(i) for i in repository.of_plan(session, plan_id)]


def _get(session: Session, indicator_id: int) -> Indicator:
    ind = repository.get(session, indicator_id)
    if ind is None:
        raise NotFound(f"no indicator {indicator_id}", field="indicator")
    return ind


def get(session: Session, indicator_id: int) -> IndicatorRead:
    return IndicatorRead.model_validate(_get(session, indicator_id))


def history(session: Session, indicator_id: int) -> list[ActualRead]:
    """Every value reported for the indicator, every version, oldest period first."""
    _get(session, indicator_id)
    return [ActualRead.model_validate(a) for a in repository.actuals(session, [indicator_id])]


# --- reporting ---------------------------------------------------------------------------------


def _norm_unit(unit: str) -> str:
    return unit.strip().replace("％", "%").replace(" ", "").lower()


def _may_report(principal: Principal, ind: Indicator) -> None:
    if principal.can(COCKPIT_MANAGE):
        return
    if principal.can(COCKPIT_REPORT) and principal.unit_code in ind.units:
        return
    who = ", ".join(ind.units) or "the bureau"
    raise Forbidden(f"{ind.name} is reported by {who}, not by {principal.unit_code or 'you'}")


def _check_value(ind: Indicator, period: str, value: float, unit: str, today: date) -> None:
    if unit and _norm_unit(unit) != _norm_unit(ind.measure_unit):
        raise InvalidInput(
            f"{ind.name} is measured in {ind.measure_unit}, not {unit}: convert the value",
            field="unit",
        )
    year, _, month = period.partition("-")
    first = ind.baseline_year if ind.baseline_year is not None else min(map(int, ind.targets)) - 10
    if int(year) < first:
        raise InvalidInput(f"{period} is before the indicator's baseline year {first}",
                           field="period")  # fmt: skip
    # the current year or month may be reported as it stands; a later one cannot
    later = (int(year), int(month)) > (today.year, today.month) if month else int(year) > today.year
    if later:
        raise InvalidInput(f"{period} is still to come (today is {today})", field="period")
    low, high = ind.minimum, ind.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        shown = f"{'' if low is None else low}–{'' if high is None else high}"
        raise InvalidInput(
            f"{value} {ind.measure_unit} is outside what {ind.name} can be ({shown})",
            field="value",
        )


def _read(actual: Actual) -> ActualRead:
    return ActualRead.model_validate(actual)


def report(
    session: Session,
    principal: Principal,
    indicator_id: int,
    data: ActualCreate,
    today: date | None = None,
) -> ActualRead:
    """A unit reports the value for a period; it waits for the bureau's approval. A period that
    already has a value takes a correction, with its reason, not a second report."""
    ind = _get(session, indicator_id)
    _may_report(principal, ind)
    _check_value(ind, data.period, data.value, data.unit, today or clock.today())
    live = [v for v in repository.versions(session, ind.id, data.period)
            if v.status != ActualStatus.rejected]  # fmt: skip
    if live:
        last = live[-1]
        raise Conflict(
            f"{ind.name} already has a value for {data.period} (version {last.version}, "
            f"{last.status}): send a correction with its reason",
            field="period",
        )
    versions = repository.versions(session, ind.id, data.period)
    actual = Actual(
        indicator_id=ind.id, period=data.period, version=len(versions) + 1, value=data.value,
        source=data.source, evidence=data.evidence, unit_code=principal.unit_code,
        reported_by=principal.username, reported_at=datetime.now(UTC),
        status=ActualStatus.pending,
    )  # fmt: skip
    repository.add(session, actual)
    ledger.record(
        session, actor_of(principal), "cockpit.actual.reported", object_type="indicator",
        object_id=ind.id, details={"period": data.period, "value": data.value,
                                   "version": actual.version, "source": data.source},
    )  # fmt: skip
    return _read(actual)


def correct(
    session: Session,
    principal: Principal,
    indicator_id: int,
    period: str,
    data: Correction,
    today: date | None = None,
) -> ActualRead:
    """A new version of a period's value, with the reason the last one was wrong."""
    ind = _get(session, indicator_id)
    _may_report(principal, ind)
    versions = repository.versions(session, ind.id, period)
    if not versions:
        raise NotFound(f"{ind.name} has no value for {period} to correct", field="period")
    _check_value(ind, period, data.value, data.unit, today or clock.today())
    for v in versions:
        if v.status == ActualStatus.pending:  # an unanswered version gives way to the correction
            v.status = ActualStatus.superseded
    actual = Actual(
        indicator_id=ind.id, period=period, version=versions[-1].version + 1, value=data.value,
        source=data.source or versions[-1].source, evidence=data.evidence,
        unit_code=principal.unit_code, reported_by=principal.username,
        reported_at=datetime.now(UTC), reason=data.reason, status=ActualStatus.pending,
    )  # fmt: skip
    repository.add(session, actual)
    ledger.record(
        session, actor_of(principal), "cockpit.actual.corrected", object_type="indicator",
        object_id=ind.id, reason=data.reason,
        details={"period": period, "value": data.value, "version": actual.version,
                 "was": versions[-1].value},
    )  # fmt: skip
    return _read(actual)


def decide(session: Session, principal: Principal, actual_id: int, data: Decision) -> ActualRead:
    """The bureau approves a reported value (the one it replaces is superseded) or rejects it
    with a note for the unit."""
    if not principal.can(COCKPIT_MANAGE):
        raise Forbidden("approving reported values is the bureau's")
    actual = repository.actual(session, actual_id)
    if actual is None:
        raise NotFound(f"no reported value {actual_id}", field="actual")
    if actual.status != ActualStatus.pending:
        raise Conflict(f"value {actual_id} is {actual.status}, not awaiting a decision")
    if not data.approve and len(data.note.strip()) < 2:
        raise InvalidInput("say why it is rejected", field="note")
    if data.approve:
        for other in repository.versions(session, actual.indicator_id, actual.period):
            if other.id != actual.id and other.status == ActualStatus.approved:
                other.status = ActualStatus.superseded
    actual.status = ActualStatus.approved if data.approve else ActualStatus.rejected
    actual.decided_by, actual.decided_at = principal.username, datetime.now(UTC)
    actual.decision_note = data.note
    session.flush()
    ledger.record(
        session, actor_of(principal),
        "cockpit.actual.approved" if data.approve else "cockpit.actual.rejected",
        object_type="indicator", object_id=actual.indicator_id, reason=data.note,
        details={"period": actual.period, "version": actual.version, "value": actual.value},
    )  # fmt: skip
    return _read(actual)


def record_measured(
    session: Session, indicator_id: int, period: str, value: float, source: str
) -> ActualRead | None:
    """A value the platform measured itself: marked as measured, it waits for the bureau's
    review like a reported one. Nothing is written when the period's live value is already
    this figure, or when a unit's own report for the period awaits a decision; a new figure
    takes the place of a measured one still awaiting review."""
    ind = _get(session, indicator_id)
    versions = repository.versions(session, ind.id, period)
    live = [v for v in versions if v.status in (ActualStatus.pending, ActualStatus.approved)]
    if live and abs(live[-1].value - value) < 1e-9:
        return None
    if any(v.status == ActualStatus.pending and not v.measured for v in versions):
        return None
    for v in versions:
        if v.status == ActualStatus.pending:
            v.status = ActualStatus.superseded
    actual = Actual(
        indicator_id=ind.id, period=period, version=(versions[-1].version if versions else 0) + 1,
        value=value, source=source, evidence="measured by citybase", reported_by="citybase",
        reported_at=datetime.now(UTC), status=ActualStatus.pending, measured=True,
    )  # fmt: skip
    repository.add(session, actual)
    ledger.record(
        session, Actor.system("cockpit"), "cockpit.actual.measured", object_type="indicator",
        object_id=ind.id, details={"period": period, "value": value, "source": source},
    )  # fmt: skip
    return _read(actual)


def pending(session: Session) -> list[ActualRead]:
    """Reported values awaiting the bureau, oldest first."""
    return [_read(a) for a in repository.pending(session)]


# --- progress ----------------------------------------------------------------------------------


def _progress(
    ind: Indicator, values: list[Any], latest_rows: dict[int, Actual], today: date
) -> Progress:
    """``values``: the indicator's live values as ``repository.points`` gives them."""
    approved = sorted((a for a in values if a.status == ActualStatus.approved),
                      key=lambda a: (period_time(a.period), a.version))  # fmt: skip
    latest = approved[-1] if approved else None
    final_year = max(int(y) for y in ind.targets)
    final_target = float(ind.targets[str(final_year)])
    this_year = target_for(ind, today.year)
    target_year, target = this_year if this_year else (None, None)
    trend = forecast(ind, [(period_time(a.period), a.value) for a in approved], final_year)
    if latest is None:
        done, expected, status = None, None, Status.none
    else:
        t = period_time(latest.period)
        done = completion(ind.direction, latest.value, target) if target is not None else None
        expected = expected_at(ind, t)
        status = status_of(ind, latest.value, t, target)
    return Progress(
        indicator=IndicatorRead.model_validate(ind),
        latest=_read(latest_rows[latest.id]) if latest else None,
        pending=sum(1 for a in values if a.status == ActualStatus.pending),
        target_year=target_year, target=target, final_year=final_year, final_target=final_target,
        completion=done, expected=expected, status=status, forecast=trend,
        forecast_meets=None if trend is None else _better(ind.direction, trend, final_target),
        series=[Point(period=a.period, value=a.value, measured=a.measured) for a in approved],
    )  # fmt: skip


def _latest_ids(values: list[Any]) -> Iterable[int]:
    approved = [a for a in values if a.status == ActualStatus.approved]
    if approved:
        yield max(approved, key=lambda a: (period_time(a.period), a.version)).id


def progress(
    session: Session, plan_ids: Iterable[int], today: date | None = None
) -> dict[int, list[Progress]]:
    """Every indicator of the plans, where it stands; by plan id, in the plans' order. Only
    the latest value of each is read whole."""
    indicators = repository.of_plans(session, plan_ids)
    values: dict[int, list[Any]] = defaultdict(list)
    for point in repository.points(session, [i.id for i in indicators]):
        values[point.indicator_id].append(point)
    wanted = [n for v in values.values() for n in _latest_ids(v)]
    latest = {a.id: a for a in repository.by_actual_ids(session, wanted)}
    out: dict[int, list[Progress]] = defaultdict(list)
    for ind in indicators:
        out[ind.plan_id].append(_progress(ind, values[ind.id], latest, today or clock.today()))
    return dict(out)


def standing_in_year(
    session: Session, indicator_ids: Iterable[int], year: int
) -> dict[int, tuple[Status, ActualRead | None]]:
    """Where each indicator stood in ``year``: its latest approved value for a period of the
    year (a year's figure is often approved early in the next), judged against its path;
    ``Status.none`` with no such value."""
    ids = list(indicator_ids)
    latest: dict[int, Actual] = {}
    for a in repository.actuals(session, ids):
        if a.status != ActualStatus.approved or int(a.period[:4]) != year:
            continue
        best = latest.get(a.indicator_id)
        if best is None or period_time(a.period) >= period_time(best.period):
            latest[a.indicator_id] = a
    out: dict[int, tuple[Status, ActualRead | None]] = {}
    for ind in repository.by_ids(session, ids):
        found = latest.get(ind.id)
        if found is None:
            out[ind.id] = (Status.none, None)
            continue
        target = target_for(ind, year)
        status = status_of(ind, found.value, period_time(found.period),
                           target[1] if target else None)  # fmt: skip
        out[ind.id] = (status, _read(found))
    return out


def progress_of(session: Session, indicator_id: int, today: date | None = None) -> Progress:
    ind = _get(session, indicator_id)
    values = list(repository.points(session, [ind.id]))
    latest = {a.id: a for a in repository.by_actual_ids(session, _latest_ids(values))}
    return _progress(ind, values, latest, today or clock.today())


# --- what the platform measures itself ---------------------------------------------------------


def _month_before(day: date) -> str:
    last = date(day.year, day.month, 1) - timedelta(days=1)
    return f"{last.year}-{last.month:02d}"


def measure_month(
    session: Session,
    period: str,
    *,
    now: datetime | None = None,
    again: bool = False,
    indicator_ids: Iterable[int] | None = None,
) -> list[ActualRead]:
    """Every indicator that names a measure (or those given) gets the month's figure, to be
    reviewed. A month already measured is left as it is unless ``again``; ``now`` within the
    month measures it as it stands."""
    window = measures.Window.of_month(period, now)
    wanted = None if indicator_ids is None else set(indicator_ids)
    written = []
    for ind in repository.with_measure(session):
        if ind.measure not in measures.MEASURES or (wanted is not None and ind.id not in wanted):
            continue
        if not again and any(v.measured for v in repository.versions(session, ind.id, period)):
            continue
        value = measures.value_of(session, ind.measure, ind.measure_unit, window)
        if value is None:
            continue
        found = record_measured(session, ind.id, period, value, ind.measure)
        if found is not None:
            written.append(found)
    return written


def measure_due(session: Session, today: date | None = None) -> list[ActualRead]:
    """The scheduled job's work: the month just closed, for every measured indicator that does
    not hold its figure yet."""
    return measure_month(session, _month_before(today or clock.today()))


def measure_now(session: Session, principal: Principal, indicator_id: int) -> ActualRead | None:
    """The bureau asks for this month's figure as it stands (None: nothing new to write)."""
    if not principal.can(COCKPIT_MANAGE):
        raise Forbidden("asking the platform to measure is the bureau's")
    ind = _get(session, indicator_id)
    if ind.measure not in measures.MEASURES:
        raise InvalidInput(f"{ind.name} is not measured by the platform", field="measure")
    now = datetime.now(clock.CITY_TZ)
    period = f"{now.year}-{now.month:02d}"
    window = measures.Window.of_month(period, now)
    if measures.value_of(session, ind.measure, ind.measure_unit, window) is None:
        raise Conflict(f"{measures.MEASURES[ind.measure].label}: nothing to count from yet",
                       field="measure")  # fmt: skip
    found = measure_month(session, period, now=now, again=True, indicator_ids=[ind.id])
    return found[0] if found else None
