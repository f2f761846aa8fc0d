"""Masking policy and its application (脱敏策略, GB/T 37964).

A policy says, for each level of GB/T 43697-2024 and each kind of field, which operator applies.
The platform ships a default policy (``DEFAULTS``); the bureau may change any cell, with a reason
that goes on the ledger. A resource's *plan* joins the policy of its level with what each of its
data items holds (from the grading scan, the item's name and its type); the plan is applied on
every read and export of shared data. Resources never graded are masked as 一般数据 4 级.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import partial
from operator import itemgetter
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.errors import InvalidInput, NotFound
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import DataItemRead, DataType, ResourceRead
from citybase.data.datastore import service as datastore
from citybase.data.datastore.schemas import RowQuery
from citybase.data.grading import service as grading
from citybase.data.grading.schemas import Finding, Level
from citybase.data.masking import operators as ops
from citybase.data.masking import repository
from citybase.data.masking.models import MaskingRule
from citybase.data.masking.schemas import (
    FieldKind,
    KReport,
    MaskedField,
    MaskPlan,
    Operator,
    PolicyChange,
    PolicyRow,
    Preview,
    RedactResult,
    RevealRequest,
    Rule,
)

K = FieldKind
UNGRADED_POLICY = Level.general_4

CLEAR = Rule(op=Operator.clear)
SUPPRESS = Rule(op=Operator.suppress)
REDACT = Rule(op=Operator.redact)


def _keep(first: int, last: int) -> Rule:
    return Rule(op=Operator.keep, first=first, last=last)


def _row(**rules: Rule) -> dict[FieldKind, Rule]:
    return {K(kind): rule for kind, rule in rules.items()}


# identifiers are masked at every level; other personal data from 一般数据 3 级 up
_LOW = _row(
    citizen_id=_keep(6, 4), bank_card=_keep(0, 4), mobile=CLEAR, name=CLEAR, address=CLEAR,
    birth_date=CLEAR, age=CLEAR, credit_code=CLEAR, text=REDACT, other=CLEAR,
)  # fmt: skip
_PERSONAL = _row(
    citizen_id=_keep(6, 4), bank_card=_keep(0, 4), mobile=_keep(3, 4), name=_keep(1, 0),
    address=Rule(op=Operator.district), birth_date=Rule(op=Operator.year),
    age=Rule(op=Operator.age_band), credit_code=CLEAR, text=REDACT, other=CLEAR,
)  # fmt: skip
DEFAULTS: dict[Level, dict[FieldKind, Rule]] = {
    Level.general_1: _LOW,
    Level.general_2: _LOW,
    Level.general_3: _PERSONAL,
    Level.general_4: {**_PERSONAL, K.citizen_id: Rule(op=Operator.pseudonym)},
    Level.important: {
        **_PERSONAL, K.citizen_id: Rule(op=Operator.hash), K.bank_card: SUPPRESS,
        K.mobile: _keep(0, 4),
    },
    Level.core: {
        **{kind: SUPPRESS for kind in FieldKind}, K.citizen_id: Rule(op=Operator.hash),
        K.credit_code: CLEAR, K.other: CLEAR,
    },
}  # fmt: skip

# the most telling kind wins when the scan found several in one item
_PRECEDENCE = [K.citizen_id, K.bank_card, K.mobile, K.name, K.address, K.credit_code]
_BIRTH = re.compile(r"出生|生日|出生年月")
_AGE = re.compile(r"年龄|岁")
QUASI_NAMES = re.compile(r"性别|民族|邮编|邮政编码|区划|街道|乡镇|社区|籍贯|职业|学历")


# --- the policy --------------------------------------------------------------------------------


def policy(session: Session) -> dict[Level, dict[FieldKind, Rule]]:
    table = {level: dict(rules) for level, rules in DEFAULTS.items()}
    for rule in repository.rules(session):
        table[Level(rule.level)][K(rule.kind)] = Rule(
            op=Operator(rule.op), first=rule.first, last=rule.last
        )
    return table


def policy_rows(session: Session) -> list[PolicyRow]:
    changed = {(r.level, r.kind): r for r in repository.rules(session)}
    rows = []
    for level, rules in policy(session).items():
        for kind, rule in rules.items():
            stored = changed.get((level.value, kind.value))
            rows.append(
                PolicyRow(
                    level=level.value, kind=kind, rule=rule, default=stored is None,
                    updated_by=stored.updated_by if stored else "",
                    updated_at=stored.updated_at if stored else None,
                )
            )  # fmt: skip
    return rows


def set_rule(
    session: Session, principal: Principal, level: Level, kind: FieldKind, change: PolicyChange
) -> PolicyRow:
    """Change one cell of the policy; setting it back to the default removes the change."""
    if change.rule.op is Operator.keep and change.rule.first + change.rule.last == 0:
        raise InvalidInput("keep: say how many characters to keep", field="rule.first")
    before = policy(session)[level][kind]
    repository.remove(session, level.value, kind.value)
    if change.rule != DEFAULTS[level][kind]:
        repository.add(
            session,
            MaskingRule(
                level=level.value, kind=kind.value, op=change.rule.op.value,
                first=change.rule.first, last=change.rule.last, reason=change.reason,
                updated_by=principal.username, updated_at=datetime.now(UTC),
            ),
        )  # fmt: skip
    session.flush()
    ledger.record(
        session, actor_of(principal), "masking.policy", object_type="masking_policy",
        object_id=f"{level.value}/{kind.value}", reason=change.reason,
        details={"from": before.model_dump(mode="json"), "to": change.rule.model_dump(mode="json")},
    )  # fmt: skip
    return next(r for r in policy_rows(session) if r.level == level.value and r.kind is kind)


# --- plans -------------------------------------------------------------------------------------


FREE_TEXT_LENGTH = grading.FREE_TEXT_LENGTH  # longer string items are free text
SHORTEST_ID = 11  # a mobile number: a shorter string item cannot hide an identifier


def kind_of(item: DataItemRead, findings: Iterable[Finding] = ()) -> FieldKind:
    """What an item holds: the scan's findings (by its name and element, or in its values), else
    what its name says. A long text item whose values merely *contain* an identifier is free
    text: what is found in it is masked in place, not the whole value."""
    free_text = item.data_type is DataType.string and (item.length or 0) > FREE_TEXT_LENGTH
    kinds = {f.kind for f in findings if f.by_name or not free_text}
    for kind in _PRECEDENCE:
        if kind.value in kinds:
            return kind
    if _BIRTH.search(item.name):
        return K.birth_date
    if _AGE.search(item.name) and item.data_type in (
        DataType.integer,
        DataType.decimal,
        DataType.string,
    ):
        return K.age
    if item.data_type is DataType.string and (item.length is None or item.length >= SHORTEST_ID):
        return K.text
    return K.other


def plan_for(session: Session, code: str, resource: ResourceRead | None = None) -> MaskPlan:
    """How the rows of ``code`` are masked (no access check: callers check; a caller that has
    loaded the resource passes it)."""
    resource = resource or catalog.get_resource(session, code)
    level, findings = grading.graded(session, code)
    policy_level = Level(level) if level else UNGRADED_POLICY
    rules = policy(session)[policy_level]
    found: dict[str, list[Finding]] = {}
    for finding in findings:
        found.setdefault(finding.item, []).append(finding)
    fields = []
    for item in resource.items:
        kind = kind_of(item, found.get(item.name, []))
        fields.append(MaskedField(item=item.name, kind=kind, rule=rules[kind]))
    return MaskPlan(resource_code=code, level=level, policy_level=policy_level.value, fields=fields)


def _suppress(value: Any) -> None:
    return None


def _redact(value: Any) -> Any:
    return ops.redact_text(value) if isinstance(value, str) else value


def _operator(rule: Rule, keys: ops.Keys) -> Callable[[Any], Any] | None:
    op = rule.op
    if op is Operator.clear:
        return None
    if op is Operator.keep:
        return partial(ops.keep, first=rule.first, last=rule.last)
    if op is Operator.hash:
        return partial(ops.keyed_hash, keys=keys)
    if op is Operator.pseudonym:
        return partial(ops.pseudonym, keys=keys)
    if op is Operator.year:
        return ops.year_of
    if op is Operator.district:
        return ops.district_of
    if op is Operator.age_band:
        return ops.age_band
    if op is Operator.suppress:
        return _suppress
    return _redact


class Masker:
    """A plan made ready to apply: the fields to serve, each with its operator looked up once."""

    def __init__(self, plan: MaskPlan, keys: ops.Keys, fields: Iterable[str] | None = None):
        by_item = {f.item: f for f in plan.fields}
        self.plan = plan
        self.fields = list(by_item) if fields is None else list(fields)
        self.steps: list[tuple[str, Callable[[Any], Any] | None]] = [
            (name, _operator(by_item[name].rule, keys) if name in by_item else None)
            for name in self.fields
        ]
        self.redacting = {
            name for name in self.fields
            if name in by_item and by_item[name].rule.op is Operator.redact
        }  # fmt: skip

    def row(self, row: dict[str, Any]) -> dict[str, Any]:
        """The served fields of ``row``, masked, as a new row (``row`` is left as it was)."""
        out: dict[str, Any] = {}
        for name, fn in self.steps:
            value = row.get(name)
            out[name] = value if fn is None or value is None or value == "" else fn(value)
        return out

    def rows(
        self,
        rows: Iterable[dict[str, Any]],
        found: list[dict[str, Any] | None] | None = None,
        scanned: Iterable[str] = (),
    ) -> list[dict[str, Any]]:
        """The rows masked. With ``found`` (per row, the spans stored with it) for the
        ``scanned`` columns, free text is redacted where the stored spans say, not scanned
        again."""
        stored = self.redacting & set(scanned)
        if found is None or not stored:
            return [self.row(r) for r in rows]
        plain = [(name, fn) for name, fn in self.steps if name not in stored]
        texts = [name for name, _ in self.steps if name in stored]
        redact = ops.redact_spans
        out = []
        for raw, spans in zip(rows, found, strict=True):
            row: dict[str, Any] = {}
            for name, fn in plain:
                value = raw.get(name)
                row[name] = value if fn is None or value is None or value == "" else fn(value)
            for name in texts:
                value = raw.get(name)
                where = spans.get(name) if spans else None
                row[name] = redact(value, where) if where and value else value
            out.append(row)
        return out


def masker(
    session: Session, code: str, keys: ops.Keys, fields: Iterable[str] | None = None
) -> Masker:
    return Masker(plan_for(session, code), keys, fields)


def subjects(plan: MaskPlan, rows: Iterable[dict[str, Any]]) -> set[str]:
    """The citizen IDs and credit codes in ``rows`` (before masking): who the rows are about."""
    names = [f.item for f in plan.fields if f.kind in (K.citizen_id, K.credit_code)]
    found: set[str] = set()
    for row in rows:
        for name in names:
            value = row.get(name)
            if value:
                found.add(str(value).strip().upper())
    return found


# --- k-anonymity -------------------------------------------------------------------------------


def quasi_identifiers(plan: MaskPlan) -> list[str]:
    """The fields that, together, could single a person out: birth dates, ages, addresses and
    the likes of 性别 and 民族."""
    return [
        f.item
        for f in plan.fields
        if f.kind in (K.birth_date, K.age, K.address) or QUASI_NAMES.search(f.item)
    ]


def k_anonymity(rows: Iterable[dict[str, Any]], quasi: list[str], threshold: int = 5) -> KReport:
    rows = list(rows)
    try:  # C-speed when every row has every field, as served rows do
        groups = Counter(map(itemgetter(*quasi), rows)) if quasi else Counter({(): len(rows)})
    except KeyError:
        groups = Counter(tuple(row.get(name) for name in quasi) for row in rows)
    total = sum(groups.values())
    return KReport(
        quasi_identifiers=quasi, rows=total, groups=len(groups) if quasi else min(total, 1),
        k=(min(groups.values()) if quasi else total) if total else 0,
        below=sum(n for n in groups.values() if n < threshold) if quasi else 0,
        threshold=threshold,
    )  # fmt: skip


# --- verbs -------------------------------------------------------------------------------------


def redact(text: str) -> RedactResult:
    spans = grading.find_spans(text)
    return RedactResult(text=ops.redact_text(text), found=dict(Counter(s.kind for s in spans)))


def reveal(session: Session, principal: Principal, data: RevealRequest, keys: ops.Keys) -> str:
    """The value behind a pseudonym, for a case; the act is on the ledger."""
    try:
        value = ops.reveal(data.pseudonym.strip(), keys)
    except ValueError as exc:
        raise NotFound(str(exc), field="pseudonym") from exc
    ledger.record(
        session, actor_of(principal), "masking.reveal", object_type="pseudonym",
        object_id=data.pseudonym.strip()[:120], reason=data.reason, case_number=data.case_number,
    )  # fmt: skip
    return value


def get_plan(session: Session, principal: Principal, code: str) -> MaskPlan:
    catalog.get_accessible_resource(session, principal, code)  # 404 for what one cannot see
    return plan_for(session, code)


def preview(
    session: Session, principal: Principal, code: str, keys: ops.Keys, limit: int = 20
) -> Preview:
    """The first rows of ``code`` as a grantee would see them, for the provider's steward to
    check the policy before sharing, with the k-anonymity of the whole table."""
    page = datastore.query_own(session, principal, code, RowQuery(limit=limit))
    plan = plan_for(session, code)
    mask = Masker(plan, keys)
    quasi = quasi_identifiers(plan)
    report = k_anonymity((mask.row(r) for r in datastore.iter_rows(session, code)), quasi)
    return Preview(plan=plan, rows=mask.rows(page.rows), total=page.total, k=report)
