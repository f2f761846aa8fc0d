"""Data quality: rules per data item run over a resource's rows, on demand and on a schedule;
a score per resource and per item, with its trend; disputes from consumers with deadlines.

Null values are the ``not_null`` rule's business: every other rule checks only values present,
so that one missing value is counted once, not by every rule of its item.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.bus import service as bus
from citybase.core.codes import is_citizen_id, is_credit_code
from citybase.core.errors import CitybaseError, Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal, Role
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import ResourceRead
from citybase.data.datastore import service as datastore
from citybase.data.grading.service import luhn_ok
from citybase.data.quality import repository
from citybase.data.quality.models import Dispute, QualityRule, QualityRun
from citybase.data.quality.schemas import (
    CHECKABLE,
    DisputeAnswer,
    DisputeAnswered,
    DisputeCreate,
    DisputeRead,
    DisputeStatus,
    ResourceQuality,
    RuleCreate,
    RuleKind,
    RuleRead,
    RuleResult,
    RunRead,
    TrendPoint,
)

SCHEDULE = Actor.system("quality-schedule")
EXAMPLES = 5
CHECKERS: dict[str, Callable[[str], bool]] = {
    "citizen_id": is_citizen_id,
    "credit_code": is_credit_code,
    "bank_card": lambda v: v.isdigit() and luhn_ok(v),
}

# --- the rule engine ---------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _in_range(value: Any, low: Any, high: Any) -> bool:
    number = _number(value)
    if (
        number is not None
        and (low is None or _number(low) is not None)
        and (high is None or _number(high) is not None)
    ):
        return (low is None or number >= float(low)) and (high is None or number <= float(high))
    text = str(value)  # dates and other ordered text (ISO dates compare as text)
    return (low is None or text >= str(low)) and (high is None or text <= str(high))


@dataclass
class _Check:
    rule_id: int
    item: str
    kind: RuleKind
    test: Callable[[Any], bool]
    checked: int = 0
    failed: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, row: int, value: Any) -> None:
        self.failed += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append({"row": row, "value": value})


def _test_for(
    kind: RuleKind, params: dict[str, Any], reference: set[str] | None
) -> Callable[[Any], bool]:
    if kind is RuleKind.pattern:
        regex = re.compile(params["regex"])
        return lambda v: regex.fullmatch(str(v)) is not None
    if kind is RuleKind.value_set:
        allowed = {str(v) for v in params["values"]}
        return lambda v: str(v) in allowed
    if kind is RuleKind.range:
        low, high = params.get("min"), params.get("max")
        return lambda v: _in_range(v, low, high)
    if kind is RuleKind.check_chars:
        checker = CHECKERS[params["code"]]
        return lambda v: checker(str(v).strip())
    if kind is RuleKind.reference:
        known = reference or set()
        return lambda v: str(v) in known
    if kind is RuleKind.unique:
        seen: set[Any] = set()

        def first_time(value: Any) -> bool:
            if value in seen:
                return False
            seen.add(value)
            return True

        return first_time
    return lambda v: True


def evaluate(
    rules: list[RuleRead], rows: Iterable[dict[str, Any]], references: dict[int, set[str]]
) -> tuple[int, list[RuleResult]]:
    """Run ``rules`` over ``rows`` in one pass: the row count and each rule's result."""
    checks = [
        _Check(r.id, r.item, r.kind, _test_for(r.kind, r.params, references.get(r.id)))
        for r in rules
    ]
    count = 0
    for count, row in enumerate(rows, start=1):
        for check in checks:
            value = row.get(check.item)
            missing = value is None or value == ""
            if check.kind is RuleKind.not_null:
                check.checked += 1
                if missing:
                    check.fail(count, value)
            elif not missing:
                check.checked += 1
                if not check.test(value):
                    check.fail(count, value)
    return count, [
        RuleResult(
            rule_id=c.rule_id,
            item=c.item,
            kind=c.kind,
            checked=c.checked,
            failed=c.failed,
            examples=c.examples,
        )
        for c in checks
    ]


def scores(results: list[RuleResult]) -> tuple[float, dict[str, float]]:
    """Checks passed in percent, overall and per item (100 where nothing was checked)."""

    def pct(checked: int, failed: int) -> float:
        return round(100.0 * (checked - failed) / checked, 2) if checked else 100.0

    per_item: dict[str, list[int]] = {}
    for r in results:
        tally = per_item.setdefault(r.item, [0, 0])
        tally[0] += r.checked
        tally[1] += r.failed
    overall = pct(sum(r.checked for r in results), sum(r.failed for r in results))
    return overall, {item: pct(c, f) for item, (c, f) in per_item.items()}


# --- rules -------------------------------------------------------------------------------------


def _check_editor(principal: Principal, resource: ResourceRead) -> None:
    if not (
        principal.has_role(Role.platform_admin)
        or principal.unit_code == resource.provider_unit_code
    ):
        raise Forbidden("quality rules are kept by the providing unit", field="code")


def _check_params(session: Session, resource: ResourceRead, data: RuleCreate) -> dict[str, Any]:
    params = dict(data.params)
    if data.item not in {i.name for i in resource.items}:
        raise InvalidInput(f"{data.item} is not a data item of {resource.code}", field="item")
    kind = data.kind
    if kind is RuleKind.pattern:
        try:
            re.compile(str(params.get("regex", "")))
        except re.error as exc:
            raise InvalidInput(f"not a regular expression: {exc}", field="params.regex") from exc
        if not params.get("regex"):
            raise InvalidInput("give the pattern", field="params.regex")
    elif kind is RuleKind.value_set:
        if not isinstance(params.get("values"), list) or not params["values"]:
            raise InvalidInput("give the allowed values as a list", field="params.values")
    elif kind is RuleKind.range:
        low, high = params.get("min"), params.get("max")
        if low is None and high is None:
            raise InvalidInput("give min, max or both", field="params.min")
        if (
            low is not None
            and high is not None
            and _in_range(low, None, None)
            and not _in_range(low, None, high)
        ):
            raise InvalidInput("min is above max", field="params.min")
    elif kind is RuleKind.check_chars:
        if params.get("code") not in CHECKABLE:
            raise InvalidInput(f"code is one of {', '.join(CHECKABLE)}", field="params.code")
    elif kind is RuleKind.reference:
        target = catalog.get_resource(session, str(params.get("resource", "")))
        if params.get("item") not in {i.name for i in target.items}:
            raise InvalidInput(f"{params.get('item')} is not a data item of {target.code}",
                               field="params.item")  # fmt: skip
    return params


def add_rule(session: Session, principal: Principal, code: str, data: RuleCreate) -> RuleRead:
    resource = catalog.get_accessible_resource(session, principal, code)
    _check_editor(principal, resource)
    try:
        params = _check_params(session, resource, data)
    except NotFound as exc:
        raise InvalidInput(exc.message, field="params.resource") from exc
    rule = QualityRule(
        resource_code=code, item=data.item, kind=data.kind.value, params=params,
        created_by=principal.username, created_at=datetime.now(UTC),
    )  # fmt: skip
    repository.add(session, rule)
    ledger.record(session, actor_of(principal), "quality.rule.add", object_type="data_resource",
                  object_id=code, details={"rule": rule.id, "item": data.item,
                                           "kind": data.kind.value, "params": params})  # fmt: skip
    return RuleRead.model_validate(rule)


def remove_rule(session: Session, principal: Principal, code: str, rule_id: int) -> None:
    resource = catalog.get_accessible_resource(session, principal, code)
    _check_editor(principal, resource)
    rule = repository.rule(session, rule_id)
    if rule is None or rule.resource_code != code or not rule.active:
        raise NotFound(f"no rule {rule_id} on {code}", field="rule")
    rule.active = False  # kept: past runs refer to it
    session.flush()
    ledger.record(session, actor_of(principal), "quality.rule.remove", object_type="data_resource",
                  object_id=code, details={"rule": rule_id})  # fmt: skip


def list_rules(session: Session, principal: Principal, code: str) -> list[RuleRead]:
    catalog.get_accessible_resource(session, principal, code)
    return [RuleRead.model_validate(r) for r in repository.rules(session, code)]


# --- runs --------------------------------------------------------------------------------------


def _references(session: Session, rules: list[RuleRead]) -> dict[int, set[str]]:
    values: dict[tuple[str, str], set[str]] = {}
    out: dict[int, set[str]] = {}
    for rule in rules:
        if rule.kind is not RuleKind.reference:
            continue
        key = (str(rule.params["resource"]), str(rule.params["item"]))
        if key not in values:
            values[key] = (
                {str(r.get(key[1])) for r in datastore.iter_rows(session, key[0])}
                if datastore.table_of(session, key[0]) is not None
                else set()
            )
        out[rule.id] = values[key]
    return out


def run(session: Session, actor: Actor, code: str) -> RunRead:
    """Run the resource's rules over all its rows and keep the result (no access check)."""
    rules = [RuleRead.model_validate(r) for r in repository.rules(session, code)]
    rows: Iterable[dict[str, Any]] = (
        datastore.iter_rows(session, code) if datastore.table_of(session, code) else ()
    )
    count, results = evaluate(rules, rows, _references(session, rules))
    score, item_scores = scores(results)
    record = QualityRun(
        resource_code=code, run_at=datetime.now(UTC), run_by=actor.name, rows=count,
        checks=sum(r.checked for r in results), failures=sum(r.failed for r in results),
        score=score, item_scores=item_scores,
        results=[r.model_dump(mode="json") for r in results],
    )  # fmt: skip
    repository.add(session, record)
    ledger.record(session, actor, "quality.run", object_type="data_resource", object_id=code,
                  details={"run": record.id, "rows": count, "score": score,
                           "failures": record.failures})  # fmt: skip
    return RunRead.model_validate(record)


def run_now(session: Session, principal: Principal, code: str) -> RunRead:
    resource = catalog.get_accessible_resource(session, principal, code)
    _check_editor(principal, resource)
    if not repository.rules(session, code):
        raise Conflict(f"{code} has no quality rules yet", field="code")
    return run(session, actor_of(principal), code)


def run_due(session: Session, every: timedelta) -> list[str]:
    """The schedule: run every resource with rules whose last run is older than ``every``."""
    last = repository.last_run_times(session)
    now = datetime.now(UTC)
    due = [
        c for c in repository.codes_with_rules(session) if c not in last or now - last[c] >= every
    ]
    for code in due:
        run(session, SCHEDULE, code)
    return due


def quality_of(session: Session, principal: Principal, code: str) -> ResourceQuality:
    catalog.get_accessible_resource(session, principal, code)
    runs = repository.runs(session, code)
    return ResourceQuality(
        resource_code=code, rules=len(repository.rules(session, code)),
        last=RunRead.model_validate(runs[0]) if runs else None,
        trend=[TrendPoint(run_at=r.run_at, score=r.score) for r in reversed(runs)],
        open_disputes=repository.open_dispute_count(session, code),
    )  # fmt: skip


def latest_score(session: Session, code: str) -> float | None:
    """The score of a resource's last quality run (None: never run), with no access check: for
    the platform's own work, as ``catalog.get_resource`` (a data product's quality report)."""
    runs = repository.runs(session, code, limit=1)
    return runs[0].score if runs else None


def codes_with_rules(session: Session) -> list[str]:
    """Every resource with active rules (no access check)."""
    return repository.codes_with_rules(session)


# --- disputes ----------------------------------------------------------------------------------


def _dispute_read(dispute: Dispute, now: datetime | None = None) -> DisputeRead:
    read = DisputeRead.model_validate(dispute)
    read.overdue = dispute.status == DisputeStatus.open.value and dispute.deadline < (
        now or datetime.now(UTC)
    )
    return read


def raise_dispute(
    session: Session, principal: Principal, data: DisputeCreate, days: int
) -> DisputeRead:
    """A consumer disputes a row or an item; the provider has ``days`` to answer."""
    resource = catalog.get_accessible_resource(session, principal, data.resource_code)
    _check_dispute(principal, resource, data)
    now = datetime.now(UTC)
    prefix = _dispute_prefix(now)
    dispute = _new_dispute(principal, resource, data, prefix,
                           repository.count_disputes_with_prefix(session, prefix) + 1, now, days)  # fmt: skip
    repository.add(session, dispute)
    ledger.record_many(session, [_dispute_entry(principal, dispute)])
    return _dispute_read(dispute, now)


def raise_disputes(
    session: Session, principal: Principal, items: Iterable[DisputeCreate], days: int,
    at_most: int | None = None,
) -> list[DisputeRead | None]:  # fmt: skip
    """Several disputes at once, each as ``raise_dispute`` would raise it — None in its place
    where that would refuse it — with each resource looked up once and one append to the
    ledger; the items after ``at_most`` raised are left out of the answer."""
    if not principal.unit_code:
        raise Forbidden("a dispute is raised for a unit; this account has none", field="unit")
    now = datetime.now(UTC)
    prefix = _dispute_prefix(now)
    count = repository.count_disputes_with_prefix(session, prefix)
    resources: dict[str, ResourceRead | None] = {}
    out: list[Dispute | None] = []
    raised = 0
    for data in items:
        if at_most is not None and raised >= at_most:
            break
        if data.resource_code not in resources:
            try:
                resources[data.resource_code] = catalog.get_accessible_resource(
                    session, principal, data.resource_code)  # fmt: skip
            except CitybaseError:
                resources[data.resource_code] = None
        resource = resources[data.resource_code]
        try:
            if resource is None:
                raise NotFound(f"no data resource {data.resource_code}", field="code")
            _check_dispute(principal, resource, data)
        except CitybaseError:
            out.append(None)
            continue
        count, raised = count + 1, raised + 1
        out.append(_new_dispute(principal, resource, data, prefix, count, now, days))
    made = [d for d in out if d is not None]
    if made:
        session.add_all(made)
        session.flush()
        ledger.record_many(session, [_dispute_entry(principal, d) for d in made])
    return [None if d is None else _dispute_read(d, now) for d in out]


def _check_dispute(principal: Principal, resource: ResourceRead, data: DisputeCreate) -> None:
    names = {i.name for i in resource.items}
    if data.item and data.item not in names:
        raise InvalidInput(f"{data.item} is not a data item of {resource.code}", field="item")
    unknown = [k for k in data.row_filter if k not in names]
    if unknown:
        raise InvalidInput(f"no column {unknown[0]}", field="row_filter")
    if not principal.unit_code:
        raise Forbidden("a dispute is raised for a unit; this account has none", field="unit")


def _dispute_prefix(now: datetime) -> str:
    return f"QD{clock.city_date(now):%Y%m%d}"  # the city's day, as every number


def _new_dispute(principal: Principal, resource: ResourceRead, data: DisputeCreate, prefix: str,
                 serial: int, now: datetime, days: int) -> Dispute:  # fmt: skip
    return Dispute(
        number=f"{prefix}{serial:04d}", resource_code=resource.code,
        provider_unit_code=resource.provider_unit_code, consumer_unit_code=principal.unit_code,
        raised_by=principal.username, item=data.item, row_filter=data.row_filter,
        description=data.description, proposed_value=data.proposed_value,
        deadline=now + timedelta(days=days), status=DisputeStatus.open.value,
    )  # fmt: skip


def _dispute_entry(principal: Principal, dispute: Dispute) -> dict[str, Any]:
    actor = actor_of(principal)
    return {"actor": actor.name, "actor_unit": actor.unit, "action": "quality.dispute.raise",
            "object_type": "data_resource", "object_id": dispute.resource_code,
            "reason": dispute.description, "case_number": dispute.number,
            "details": {"item": dispute.item, "row": dispute.row_filter,
                        "deadline": dispute.deadline.isoformat()}}  # fmt: skip


def _dispute(session: Session, principal: Principal, number: str) -> Dispute:
    dispute = repository.dispute_by_number(session, number)
    if dispute is None or not (
        principal.has_role(Role.platform_admin)
        or principal.unit_code in (dispute.provider_unit_code, dispute.consumer_unit_code)
    ):
        raise NotFound(f"no dispute {number}", field="number")
    return dispute


def answer_dispute(
    session: Session, principal: Principal, number: str, data: DisputeAnswer
) -> DisputeRead:
    """The provider corrects the data or answers why not; the consumer is told."""
    dispute = _dispute(session, principal, number)
    if principal.unit_code != dispute.provider_unit_code:
        raise Forbidden("a dispute is answered by the providing unit", field="number")
    if dispute.status != DisputeStatus.open.value:
        raise Conflict(f"dispute {number} is already {dispute.status}", field="status")
    now = datetime.now(UTC)
    dispute.status = (DisputeStatus.corrected if data.corrected else DisputeStatus.answered).value
    dispute.response, dispute.responded_by, dispute.responded_at = (
        data.response, principal.username, now,
    )  # fmt: skip
    dispute.seen_by_consumer = False
    session.flush()
    ledger.record(session, actor_of(principal), f"quality.dispute.{dispute.status}",
                  object_type="data_resource", object_id=dispute.resource_code,
                  reason=data.response, case_number=number,
                  details={"late": now > dispute.deadline})  # fmt: skip
    bus.publish(session, DisputeAnswered(number=number, resource_code=dispute.resource_code,
                                         consumer_unit_code=dispute.consumer_unit_code,
                                         corrected=data.corrected))  # fmt: skip
    return _dispute_read(dispute, now)


def acknowledge(session: Session, principal: Principal, number: str) -> DisputeRead:
    """The consumer has read the answer."""
    dispute = _dispute(session, principal, number)
    if principal.unit_code != dispute.consumer_unit_code:
        raise Forbidden("the disputing unit acknowledges the answer", field="number")
    dispute.seen_by_consumer = True
    session.flush()
    return _dispute_read(dispute)


def withdraw_dispute(session: Session, principal: Principal, number: str) -> DisputeRead:
    dispute = _dispute(session, principal, number)
    if principal.unit_code != dispute.consumer_unit_code:
        raise Forbidden("the disputing unit withdraws it", field="number")
    if dispute.status != DisputeStatus.open.value:
        raise Conflict(f"dispute {number} is already {dispute.status}", field="status")
    dispute.status = DisputeStatus.withdrawn.value
    session.flush()
    ledger.record(session, actor_of(principal), "quality.dispute.withdraw",
                  object_type="data_resource", object_id=dispute.resource_code,
                  case_number=number)  # fmt: skip
    return _dispute_read(dispute)


def list_disputes(
    session: Session, principal: Principal, status: DisputeStatus | None = None,
    resource: str | None = None,
) -> list[DisputeRead]:  # fmt: skip
    """Disputes one's unit raised or received (all, for the platform)."""
    unit = None if principal.has_role(Role.platform_admin) else principal.unit_code
    now = datetime.now(UTC)
    found = repository.disputes(
        session, unit=unit, status=status.value if status else None, resource=resource
    )
    return [_dispute_read(d, now) for d in found]


def warn_overdue(session: Session) -> list[str]:
    """Put each dispute past its deadline on the ledger, once, as overdue (逾期预警)."""
    now = datetime.now(UTC)
    warned = []
    for dispute in repository.overdue_unwarned(session, now):
        dispute.overdue_warned_at = now
        ledger.record(session, SCHEDULE, "quality.dispute.overdue", object_type="data_resource",
                      object_id=dispute.resource_code, case_number=dispute.number,
                      details={"provider": dispute.provider_unit_code,
                               "deadline": dispute.deadline.isoformat()})  # fmt: skip
        warned.append(dispute.number)
    session.flush()
    return warned
