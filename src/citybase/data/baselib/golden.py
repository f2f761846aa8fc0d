"""Golden records (一数一源): for each field of a file, the value of the unit registered as its
authoritative source, else the latest; the rows that agree with it, and the other values, each
raised as a quality dispute to the unit that holds it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Principal
from citybase.core.settings import BaselibSettings
from citybase.data.baselib import comparisons as cmp
from citybase.data.baselib import linkage, repository
from citybase.data.baselib.linkage import Kind
from citybase.data.masking import operators as ops
from citybase.data.quality import service as quality
from citybase.data.quality.schemas import DisputeCreate
from citybase.data.sources import service as sources

if TYPE_CHECKING:
    from citybase.data.baselib.service import Row

FIELD_LABELS = {
    Kind.person: {"name": "姓名", "citizen_id": "公民身份号码", "mobile": "手机号码",
                  "birth": "出生日期", "sex": "性别", "address": "地址"},
    Kind.enterprise: {"name": "名称", "credit_code": "统一社会信用代码",
                      "legal_rep": "法定代表人", "legal_rep_id": "法定代表人证件号码",
                      "address": "注册地址", "founded": "成立日期"},
}  # fmt: skip


class Kept(NamedTuple):
    """What choosing the golden fields came to: the values differing from the chosen ones, and
    the numbers of the quality disputes raised about them."""

    conflicts: int
    disputes: list[str]


# --- golden records -------------------------------------------------------------------------------


def _comparable(kind: Kind, field: str, value: Any, regions: cmp.RegionIndex) -> str:
    """The form two sources' values are compared in (a conflict is a difference here)."""
    if value is None or value == "":
        return ""
    if field in ("citizen_id", "legal_rep_id"):
        return cmp.citizen_id(value)
    if field == "credit_code":
        return cmp.credit_code(value)
    if field == "mobile":
        return cmp.mobile(value)
    if field in ("birth", "founded"):
        return cmp.iso_date(value)
    if field == "sex":
        return cmp.sex(value)
    if field == "address":  # one source writing the street and one not is no conflict
        addr = cmp.parse_address(value, regions)
        return f"{addr.district}|{addr.road}|{addr.number}|{addr.rest}" if addr.road else addr.key()
    if field == "legal_rep" or (field == "name" and kind is Kind.person):
        return cmp.person_name(value)
    return cmp.fold(value)


def _stored(field: str, value: Any, comparable: str) -> str:
    """The value a file keeps: the normalised identifier (an old ID upgraded), else as held."""
    if field in ("citizen_id", "credit_code", "mobile", "birth", "founded", "sex", "legal_rep_id"):
        return comparable
    return cmp.fold(value)


@dataclass
class _Candidate:
    value: str
    comparable: str
    row: Row
    item: str
    authoritative: bool


def authorities(session: Session) -> dict[str, set[str]]:
    """Data element → the units registered as its authoritative source (一数一源)."""
    out: dict[str, set[str]] = defaultdict(set)
    for source in sources.list_sources(session):
        for element in source.elements:
            out[element].add(source.unit_code)
    return out


def choose(candidates: list[_Candidate]) -> tuple[_Candidate, list[_Candidate]]:
    """The authoritative unit's value, else the latest; and the values that differ from it."""
    ordered = sorted(
        candidates,
        key=lambda c: (c.authoritative, c.row.observed_at or datetime.min.replace(tzinfo=UTC),
                       c.row.row_no),
        reverse=True,
    )  # fmt: skip
    chosen = ordered[0]
    seen: set[tuple[str, str]] = set()
    others = []
    for cand in ordered[1:]:
        key = (cand.comparable, cand.row.record.resource_code)
        if cand.comparable != chosen.comparable and key not in seen:
            seen.add(key)
            others.append(cand)
    return chosen, others


def _agreeing(chosen: _Candidate, candidates: list[_Candidate]) -> list[dict[str, Any]]:
    """Every row holding the chosen value (the chosen one first), once per resource."""
    out, seen = [], set()
    for cand in [chosen, *candidates]:
        code = cand.row.record.resource_code
        if cand.comparable == chosen.comparable and code not in seen:
            seen.add(code)
            out.append({"resource_code": code, "item": cand.item, "row_no": cand.row.row_no,
                        "unit_code": cand.row.record.unit_code})  # fmt: skip
    return out


@dataclass
class NewGolden:
    """A golden field as chosen, before it is written (many at once: see ``GoldenField``)."""

    entity_id: int
    field: str
    value: str
    resource_code: str
    item: str
    row_no: int
    unit_code: str
    observed_at: datetime | None
    authoritative: bool
    alternatives: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    dispute_number: str


def keep_golden(
    session: Session, principal: Principal, kind: Kind, clusters: dict[str, list[str]],
    entity_of_cluster: dict[str, int], by_uid: dict[str, Row], regions: cmp.RegionIndex,
    settings: BaselibSettings, keys: ops.Keys, dispute_days: int,
    only: set[int] | None = None,
) -> Kept:  # fmt: skip
    """The files' golden fields, chosen anew: every file of the kind, or ``only`` these."""
    found = (repository.entities(session, kind.value) if only is None
             else repository.entities_by_ids(session, only))  # fmt: skip
    old_golden = (
        [(g.entity_id, g.field, g.alternatives)
         for g in repository.golden_of_kind(session, kind.value)]
        if only is None else repository.disputed_values(session, sorted(only))
    )  # fmt: skip
    old_disputes = {
        (entity_id, field, alt["resource_code"], alt["value"]): alt.get("dispute_number", "")
        for entity_id, field, alternatives in old_golden for alt in alternatives
        if alt.get("dispute_number")
    }  # fmt: skip
    repository.delete_golden(session, [e.id for e in found])
    session.flush()
    authority = authorities(session)
    key_field = linkage.KEY_FIELD[kind]
    entities = {e.id: e for e in found}
    for entity in entities.values():
        entity.records = 0
        entity.rep_subject = ""
    fields: list[NewGolden] = []
    to_dispute: list[tuple[NewGolden, _Candidate, _Candidate, dict[str, Any]]] = []
    conflicts = 0
    comparables: dict[tuple[str, str] | None, str] = {}  # one source's value is often another's
    for root, members in clusters.items():
        entity = entities[entity_of_cluster[root]]
        entity.records = len(members)
        per_field: dict[str, list[_Candidate]] = defaultdict(list)
        for uid in members:
            row = by_uid[uid]
            items = {f: i for i, f in row.source.fields.items()}
            for field, raw in row.raw.items():
                seen = (field, raw) if isinstance(raw, str) else None
                comparable = comparables.get(seen) if seen is not None else None
                if comparable is None:
                    comparable = _comparable(kind, field, raw, regions)
                    if seen is not None:
                        comparables[seen] = comparable
                if not comparable:
                    continue
                element = row.source.elements.get(field, "")
                per_field[field].append(_Candidate(
                    _stored(field, raw, comparable), comparable, row, items[field],
                    row.record.unit_code in authority.get(element, set()),
                ))  # fmt: skip
        for field, candidates in per_field.items():
            chosen, others = choose(candidates)
            alternatives = [
                {"value": o.value, "resource_code": o.row.record.resource_code, "item": o.item,
                 "row_no": o.row.row_no, "unit_code": o.row.record.unit_code,
                 "observed_at": o.row.observed_at.isoformat() if o.row.observed_at else None,
                 "dispute_number": old_disputes.get(
                     (entity.id, field, o.row.record.resource_code, o.value), "")}
                for o in others
            ]  # fmt: skip
            golden = NewGolden(
                entity_id=entity.id, field=field, value=chosen.value,
                resource_code=chosen.row.record.resource_code, item=chosen.item,
                row_no=chosen.row.row_no, unit_code=chosen.row.record.unit_code,
                observed_at=chosen.row.observed_at, authoritative=chosen.authoritative,
                alternatives=alternatives,
                sources=_agreeing(chosen, candidates),
                dispute_number=next((a["dispute_number"] for a in alternatives
                                     if a["dispute_number"]), ""),
            )  # fmt: skip
            fields.append(golden)
            if field == key_field:
                entity.subject = ops.subject_tag(chosen.value, keys)
            elif field == "legal_rep_id" and cmp.citizen_id_valid(chosen.value):
                entity.rep_subject = ops.subject_tag(chosen.value, keys)
            conflicts += len(others)
            to_dispute.extend(
                (golden, chosen, other, alt)
                for other, alt in zip(others, alternatives, strict=True)
                if not alt["dispute_number"]
            )
    # disputes first: their numbers go into the fields as they are written
    raised = _raise_disputes(session, principal, kind, to_dispute, settings, dispute_days)
    repository.add_golden(session, fields)
    return Kept(conflicts, raised)


def _raise_disputes(
    session: Session, principal: Principal, kind: Kind,
    to_dispute: list[tuple[NewGolden, _Candidate, _Candidate, dict[str, Any]]],
    settings: BaselibSettings,
    dispute_days: int,
) -> list[str]:  # fmt: skip
    """A value that differs from the chosen one is disputed with the unit that holds it (not
    with the steward's own unit, and at most ``disputes_per_run`` a run). Returns the numbers
    of the disputes raised."""
    if not principal.unit_code:
        return []
    labels = FIELD_LABELS[kind]
    wanted = [(golden, chosen, other, alternative)
              for golden, chosen, other, alternative in to_dispute
              if other.row.record.unit_code != principal.unit_code]  # fmt: skip
    answers = quality.raise_disputes(session, principal, (DisputeCreate(
        resource_code=other.row.record.resource_code, item=other.item,
        description=(
            f"{'一人一档' if kind is Kind.person else '一企一档'} 第 {golden.entity_id} 号档案："
            f"第 {other.row.row_no} 行的{labels.get(golden.field, golden.field)}与"
            f"{'权威来源' if chosen.authoritative else '最新来源'}"
            f"（{chosen.row.record.unit_code} 的 {chosen.row.record.resource_code}）"
            "不一致，请核实更正"
        ),
    ) for golden, chosen, other, _ in wanted), dispute_days,
        at_most=settings.disputes_per_run)  # fmt: skip
    raised: list[str] = []
    for (golden, _, _, alternative), dispute in zip(wanted, answers, strict=False):
        if dispute is None:
            continue
        alternative["dispute_number"] = dispute.number
        golden.dispute_number = golden.dispute_number or dispute.number
        raised.append(dispute.number)
    session.flush()
    return raised
