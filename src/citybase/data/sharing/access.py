"""Reads of shared data (共享调用): served only under a grant in force, only to the grantee's
users and named keys, only the granted fields, masked as the resource's level demands.

Every read, allowed or refused, is one ledger entry and one row of the access log
(``ShareAccess``). The data subjects a read served (citizen IDs and credit codes in the rows) are
indexed by keyed hash, so that the bureau can say whose data went where without keeping the
numbers a second time. The ledger entry carries a digest of those hashes, so the index cannot be
changed unseen.

A refusal is returned, not raised: the caller answers with an error *and commits*, so that the
refusal stays on the ledger.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError, Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal, Role
from citybase.core.ledger import service as ledger
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import ShareType
from citybase.data.datastore import service as datastore
from citybase.data.datastore.schemas import RowPage, RowQuery
from citybase.data.grading.schemas import Level
from citybase.data.masking import operators as ops
from citybase.data.masking import service as masking
from citybase.data.masking.schemas import KReport, MaskPlan, Operator, Rule
from citybase.data.sharing import repository
from citybase.data.sharing.auth import SHARE_AUDIT, SHARE_READ
from citybase.data.sharing.models import ShareGrant
from citybase.data.sharing.schemas import CONSENT as CONSENT
from citybase.data.sharing.schemas import (
    AccessFilter,
    AccessPage,
    AccessRead,
    AccessSummary,
    Basis,
    GrantState,
    Outcome,
    ReadContext,
    Refusal,
    SharedPage,
)
from citybase.data.sharing.service import state_of
from citybase.data.sharing.trace import PERSONAL_LEVELS as PERSONAL_LEVELS
from citybase.data.sharing.trace import Read, log_read, refuse
from citybase.data.sharing.trace import Refused as Refused
from citybase.data.sharing.trace import case_number_problem as case_number_problem

_CLEAR = Rule(op=Operator.clear)
EXPORT_MAX_ROWS = 100_000
PAGE_MAX = 10_000


def grant_held(session: Session, principal: Principal, code: str) -> int | None:
    """The grant in force under which the principal's unit may read ``code`` (its id), found
    without reading or tracing anything: a page asks before it reads, so that opening a
    resource one holds no grant for leaves no refused read in the log."""
    grant, _, _ = _find_grant(session, principal, code)
    return grant.id if grant is not None else None


def _find_grant(
    session: Session, principal: Principal, code: str
) -> tuple[ShareGrant | None, Refusal | None, str]:
    held = [
        g
        for g in repository.grants(session, unit_code=principal.unit_code, resource_code=code)
        if g.consumer_unit_code == principal.unit_code
    ]
    now = datetime.now(UTC)
    in_force = [g for g in held if state_of(g, now) is GrantState.in_force]
    if principal.api_key_id is not None:
        usable = [g for g in in_force if principal.api_key_id in g.api_key_ids]
        if in_force and not usable:
            return None, Refusal.key_not_granted, (
                f"API key {principal.api_key_id} is not one of the systems named in the grant "
                f"(grant {in_force[0].id}); ask for it in a new request"
            )  # fmt: skip
        in_force = usable
    if in_force:
        return max(in_force, key=lambda g: (len(g.fields), g.valid_until)), None, ""
    if held:
        latest = held[0]
        if state_of(latest, now) is GrantState.revoked:
            return None, Refusal.grant_revoked, (
                f"grant {latest.id} was revoked on {latest.revoked_at:%Y-%m-%d}: "
                f"{latest.revoke_reason}"
            )  # fmt: skip
        return (
            None,
            Refusal.grant_expired,
            (f"grant {latest.id} expired on {latest.valid_until:%Y-%m-%d}; request it again"),
        )
    return (
        None,
        Refusal.no_grant,
        (f"{principal.unit_code or 'this account'} holds no grant for {code}: request it first"),
    )


def _check_reader(session: Session, read: Read) -> Refused | None:
    """What every read of another unit's rows checks first, whatever its basis."""
    principal, ctx, code = read.principal, read.ctx, read.code
    if ctx.case_number and (problem := case_number_problem(ctx.case_number)):
        return refuse(session, read, Refusal.case_number_invalid, problem)
    try:
        read.resource = catalog.get_resource(session, code)
    except NotFound:
        return refuse(session, read, Refusal.no_resource, f"no data resource {code}")
    if read.basis is None and not principal.can(SHARE_READ):
        return refuse(session, read, Refusal.not_permitted, (
            f"{principal.username} may not read shared data (permission {SHARE_READ})"
        ))  # fmt: skip
    if not read.consumer:
        return refuse(session, read, Refusal.no_unit, "shared data is read for a unit; "
                      "this account has none")  # fmt: skip
    if ctx.client_unit and ctx.client_unit != principal.unit_code:
        return refuse(session, read, Refusal.foreign_key, (
            f"this credential belongs to {principal.unit_code}, not to {ctx.client_unit}: "
            "a unit reads with its own keys"
        ))  # fmt: skip
    if (
        read.basis is not None
        and read.basis.kind == CONSENT
        and (read.resource.share_type == ShareType.none)
    ):  # a consent is no ground to deliver what the catalog does not share
        return refuse(session, read, Refusal.not_shared, (
            f"{code} is not shared (不予共享) in the catalog"
        ))  # fmt: skip
    consented = read.basis is not None and read.basis.kind == CONSENT
    # under consent the subject's data goes to the unit handling its application, which may be
    # the one that holds it
    if not consented and read.consumer == read.resource.provider_unit_code:
        return refuse(session, read, Refusal.own_data, (
            f"{code} is your unit's own: read it at /api/v1/catalog/resources/{code}/rows"
        ))  # fmt: skip
    return None


def _check_grant(session: Session, read: Read) -> tuple[list[str], str] | Refused:
    """The grant the reader's unit holds: the fields it covers and how to name it."""
    grant, refusal, message = _find_grant(session, read.principal, read.code)
    if refusal is not None:
        return refuse(session, read, refusal, message)
    assert grant is not None
    read.grant = grant
    request = repository.request_by_id(session, grant.request_id)
    read.legal_basis = request.legal_basis if request else ""
    read.purpose = request.purpose if request else ""
    return list(grant.fields), f"grant {grant.id}"


def _stricter(session: Session, plan: MaskPlan, level: Level | None) -> MaskPlan:
    """``plan``, masked at least as hard as ``level``'s policy would."""
    if level is None or (plan.level and Level(plan.level).rank >= level.rank):
        return plan
    if Level(plan.policy_level).rank >= level.rank:  # never graded: already masked harder
        return plan
    rules = masking.policy(session)[level]
    fields = [f.model_copy(update={"rule": rules[f.kind]}) for f in plan.fields]
    return plan.model_copy(update={"policy_level": level.value, "fields": fields})


def _check(
    session: Session, read: Read, wanted_fields: list[str], used_fields: list[str]
) -> Refused | None:
    if refused := _check_reader(session, read):
        return refused
    assert read.resource is not None
    principal, ctx, code, basis = read.principal, read.ctx, read.code, read.basis
    if basis is None:
        held = _check_grant(session, read)
        if isinstance(held, Refused):
            return held
        covered, named = held
    else:
        # a basis naming no fields covers every data item of the resource (a product's contract)
        fields = basis.fields or tuple(i.name for i in read.resource.items)
        covered, named = list(fields), f"{basis.kind} {basis.ref}"
    outside = [f for f in dict.fromkeys(wanted_fields + used_fields) if f not in covered]
    if outside:
        return refuse(session, read, Refusal.field_not_granted, (
            f"not granted: {', '.join(outside)} ({named} covers {', '.join(covered)})"
        ))  # fmt: skip
    read.fields = wanted_fields or covered
    plan = masking.plan_for(session, code, read.resource)
    read.plan = _stricter(session, plan, basis.mask_level) if basis else plan
    level = read.plan.level
    if level not in PERSONAL_LEVELS:
        return None
    if basis is not None:  # the basis is the documented reason; its purpose must be stated
        if not read.stated_purpose.strip():
            return refuse(session, read, Refusal.purpose_required, (
                f"{code} holds personal information ({level or 'not graded'}): "
                f"{named} states no purpose"
            ))  # fmt: skip
        return None
    if not ctx.case_number:
        return refuse(session, read, Refusal.case_number_required, (
            f"{code} holds personal information ({level or 'not graded'}): name the case "
            "in the X-Citybase-Issue header"
        ))  # fmt: skip
    if principal.api_key_id is not None and not ctx.end_user:
        return refuse(session, read, Refusal.end_user_required, (
            f"{code} holds personal information: a system names the person it reads for "
            "in the X-Citybase-UserId header"
        ))  # fmt: skip
    return None


def _query_dict(request: RowQuery) -> dict[str, Any]:
    """What was asked, as it goes on the ledger: what differs from the defaults, and the page."""
    asked: dict[str, Any] = request.model_dump(mode="json", exclude_defaults=True)
    return asked | {"limit": request.limit}


@dataclass
class _Fetched:
    total: int
    rows: list[dict[str, Any]]
    found: list[dict[str, Any] | None]
    scanned: list[str]


def _fetch(
    session: Session, code: str, request: RowQuery, searchable: list[str], up_to: int | None,
    with_found: bool,
) -> _Fetched:  # fmt: skip
    """All columns of the matching rows (the subject index needs the identifiers even where
    they are not served), with the personal data found in their free text when stored (when
    free text is served)."""
    if up_to is None:
        page = datastore.query(session, code, request.model_copy(update={"fields": []}),
                               searchable=searchable, with_found=with_found)  # fmt: skip
        return _Fetched(page.total, page.rows, page.found or [], page.scanned)
    got = _Fetched(0, [], [], [])
    while len(got.rows) < up_to:
        chunk = request.model_copy(update={
            "fields": [], "offset": request.offset + len(got.rows),
            "limit": min(PAGE_MAX, up_to - len(got.rows)),
        })  # fmt: skip
        page = datastore.query(session, code, chunk, searchable=searchable,
                               with_found=with_found)  # fmt: skip
        got.total, got.scanned = page.total, page.scanned
        got.rows.extend(page.rows)
        got.found.extend(page.found or [])
        if len(page.rows) < chunk.limit:
            break
    return got


@dataclass(frozen=True)
class Served:
    page: SharedPage
    k: KReport


def read_rows(
    session: Session,
    principal: Principal,
    code: str,
    ctx: ReadContext,
    request: RowQuery,
    keys: ops.Keys,
    *,
    operation: str = "rows",
    up_to: int | None = None,
) -> Served | Refused:
    """Rows of another unit's resource under the grant its unit holds, masked: one page, or
    for an export ``up_to`` rows from the query's offset, fetched a page at a time."""
    return _serve(session, principal, code, ctx, request, keys, None, operation, up_to)


def read_rows_under(
    session: Session,
    principal: Principal,
    code: str,
    ctx: ReadContext,
    request: RowQuery,
    keys: ops.Keys,
    basis: Basis,
    *,
    operation: str = "rows",
    up_to: int | None = None,
) -> Served | Refused:
    """Rows of another unit's resource under a basis that is not a grant (a product
    contract…), which the domain holding it has already found in force: only the fields the
    basis covers, masked by grade (or harder, as the basis asks), traced as a read under a
    grant is, with ``basis.action`` on the ledger and the basis's kind and reference in the
    ledger entry and the access log."""
    return _serve(session, principal, code, ctx, request, keys, basis, operation, up_to)


def refuse_under(
    session: Session, principal: Principal, code: str, ctx: ReadContext, basis: Basis,
    message: str,
) -> Refused:  # fmt: skip
    """A read under a basis that the domain holding it refused before anything was read (a
    contract revoked or past its term, a delivery its policy does not allow): traced as a
    refused read — ledger entry and access-log row, with the basis and ``message`` (the rule)
    — so that a refused delivery leaves the same trace as a refused read under a grant."""
    read = Read(principal, code, ctx, "rows", {}, basis=basis)
    read.action, read.legal_basis, read.purpose = basis.action, basis.legal_basis, basis.purpose
    try:
        read.resource = catalog.get_resource(session, code)
    except NotFound:
        read.provider_unit_code = ""
    return refuse(session, read, Refusal.basis_refused, message)


def _serve(
    session: Session, principal: Principal, code: str, ctx: ReadContext, request: RowQuery,
    keys: ops.Keys, basis: Basis | None, operation: str, up_to: int | None,
) -> Served | Refused:  # fmt: skip
    asked = _query_dict(request) | ({"limit": up_to} if up_to is not None else {})
    read = Read(principal, code, ctx, operation, asked, basis=basis)
    if basis is not None:  # named from the start, so that a refusal is traced with it too
        read.action, read.legal_basis, read.purpose = basis.action, basis.legal_basis, basis.purpose
    used = list(request.filters) + ([request.sort] if request.sort else [])
    refused = _check(session, read, list(request.fields), used)
    if refused is not None:
        return refused
    assert read.fields is not None
    assert read.plan is not None
    plan = read.plan
    if basis is not None and basis.in_clear:  # the subject's own values, under its consent
        plan = plan.model_copy(update={"fields": [
            f.model_copy(update={"rule": _CLEAR}) for f in plan.fields
        ]})  # fmt: skip
    mask = masking.Masker(plan, keys, read.fields)
    try:
        fetched = _fetch(session, code, request, read.fields, up_to, bool(mask.redacting))
    except CitybaseError as exc:
        return refuse(session, read, Refusal.bad_query, exc.message)
    total, raw_rows = fetched.total, fetched.rows
    served = mask.rows(raw_rows, fetched.found, fetched.scanned)
    tags = ops.subject_tags(masking.subjects(plan, raw_rows), keys)
    quasi = [q for q in masking.quasi_identifiers(plan) if q in read.fields]
    k = masking.k_anonymity(served, quasi)
    access = log_read(
        session, read, Outcome.allowed, rows=len(served), subject_tags=tags,
        extra={"level": plan.level, "k": k.k if quasi else None},
    )  # fmt: skip
    masked = {f.item: f.rule.label() for f in plan.fields if f.item in read.fields}
    grant_id = read.grant.id if read.grant else None
    return Served(
        SharedPage.model_construct(  # rows built above; validating them again costs a third
            grant_id=grant_id, basis_kind=basis.kind if basis else "grant",
            basis_ref=basis.ref if basis else str(grant_id), resource_code=code,
            level=plan.level, masked={k: v for k, v in masked.items() if v != "clear"},
            total=total, rows=served, access_id=access.id,
        ),
        k,
    )  # fmt: skip


# a read needs no grant where the data is the reader's own, or the reader keeps the platform; it
# is traced all the same, with this as its legal basis
OWN_DATA_BASIS = "本单位数据（提供单位读取）"
PLATFORM_BASIS = "平台管理（平台管理员读取）"


def read_own_rows(
    session: Session, principal: Principal, code: str, ctx: ReadContext, request: RowQuery,
    keys: ops.Keys,
) -> tuple[RowPage, int]:  # fmt: skip
    """Rows of a resource read by its provider unit's own staff (or the platform's admins), in
    the clear and with no grant — but traced as any other read: one ledger entry, one row of
    the access log and the data subjects served, so that an auditor sees who at the provider
    looked at whose data, and why. Raises for a reader who is neither (nothing is served)."""
    if ctx.case_number and (problem := case_number_problem(ctx.case_number)):
        raise InvalidInput(problem, field="X-Citybase-Issue")
    everything = datastore.query_own(
        session, principal, code, request.model_copy(update={"fields": []})
    )
    names = {c.name for c in everything.columns}
    if unknown := [f for f in request.fields if f not in names]:
        raise InvalidInput(f"no column {unknown[0]}", field="fields")
    resource = catalog.get_resource(session, code)
    own = principal.unit_code == resource.provider_unit_code
    plan = masking.plan_for(session, code, resource)
    shown = list(request.fields) or [c.name for c in everything.columns]
    read = Read(
        principal, code, ctx, "own", _query_dict(request), resource=resource,
        legal_basis=OWN_DATA_BASIS if own else PLATFORM_BASIS, fields=shown,
    )  # fmt: skip
    tags = ops.subject_tags(masking.subjects(plan, everything.rows), keys)
    access = log_read(session, read, Outcome.allowed, rows=len(everything.rows), subject_tags=tags,
                  extra={"level": plan.level})  # fmt: skip
    if request.fields:
        everything = RowPage.model_construct(
            total=everything.total,
            columns=[c for c in everything.columns if c.name in shown],
            rows=[{n: row.get(n) for n in shown} for row in everything.rows],
        )
    return everything, access.id


def record_read(
    session: Session, principal: Principal, *, what: str, object_type: str, action: str,
    operation: str, provider_unit_code: str, legal_basis: str, ctx: ReadContext,
    fields: list[str], rows: int = 1, subject_values: set[str] | None = None,
    keys: ops.Keys | None = None,
) -> int:  # fmt: skip
    """Trace a read of personal data that another domain holds outside the catalog (a case's
    reporter, for one): the same ledger entry and access-log row as a read of rows, with
    ``action`` on the ledger. Returns the access-log row's id."""
    read = Read(
        principal, what, ctx, operation, {}, legal_basis=legal_basis, fields=fields,
        provider_unit_code=provider_unit_code, action=action, object_type=object_type,
    )  # fmt: skip
    tags = ops.subject_tags(subject_values or set(), keys) if keys is not None else []
    return log_read(session, read, Outcome.allowed, rows=rows, subject_tags=tags).id


@dataclass(frozen=True)
class HeldValue:
    """A value another domain keeps that came from a catalog resource (a base-library file's
    field): what it is called there, and the resource and data item it was taken from."""

    field: str
    item: str
    resource_code: str
    value: Any


@dataclass(frozen=True)
class ServedValues:
    values: dict[str, Any]  # field → the value as served (masked as its resource's grade says)
    withheld: list[str]  # fields no grant of the reader's unit covers
    masked: dict[str, str]  # field → the masking rule applied, where not in the clear
    legal_basis: list[str]
    served_from: dict[str, str]  # field → the resource it was served under
    access_id: int
    reasons: dict[str, str] = field(default_factory=dict)  # withheld field → why


def read_held_values(
    session: Session, principal: Principal, *, what: str, object_type: str, action: str,
    ctx: ReadContext, held: list[HeldValue], subject_values: set[str], keys: ops.Keys,
    keeper_basis: str = "", basis: Basis | None = None,
) -> ServedValues | Refused:  # fmt: skip
    """Values taken from several units' resources and kept together (a base-library file), read
    as their rows would be: each value only where the reader's unit holds a grant in force for
    its resource and data item (or the resource is its own), masked by that resource's grade,
    with a stated purpose, and a case for personal data. A value held in several resources
    (one ``HeldValue`` per resource, same field) is served from the first the reader may read. One ledger entry and one row of the
    access log for the whole read, with the data subject's keyed hash; a refusal is returned.

    ``keeper_basis``: the reader keeps these values for the platform (the base libraries'
    stewards) and reads them in the clear on that basis — traced all the same.

    ``basis``: read under a basis that is not a grant — the data subject's consent to a
    one-thing application's pre-fill: only the data items the basis covers (all when it names
    none), from resources the catalog shares (a resource 不予共享 is refused, field by field,
    with why in ``reasons``), masked by grade unless the basis delivers in the clear; the
    basis's action and legal basis on the ledger."""
    read = Read(principal, what, ctx, "file", {}, action=action, object_type=object_type,
                basis=basis)  # fmt: skip
    admin = principal.has_role(Role.platform_admin) and basis is None
    if basis is not None:
        read.action, read.legal_basis, read.purpose = basis.action, basis.legal_basis, basis.purpose
    if ctx.case_number and (problem := case_number_problem(ctx.case_number)):
        return refuse(session, read, Refusal.case_number_invalid, problem)
    if basis is not None:
        return _held_under(session, read, held, subject_values, keys, basis)
    if not (principal.can(SHARE_READ) or admin):
        return refuse(session, read, Refusal.not_permitted, (
            f"{principal.username} may not read shared data (permission {SHARE_READ})"
        ))  # fmt: skip
    if not principal.unit_code and not admin:
        return refuse(session, read, Refusal.no_unit, "shared data is read for a unit; "
                       "this account has none")  # fmt: skip
    if ctx.client_unit and ctx.client_unit != principal.unit_code:
        return refuse(session, read, Refusal.foreign_key, (
            f"this credential belongs to {principal.unit_code}, not to {ctx.client_unit}: "
            "a unit reads with its own keys"
        ))  # fmt: skip
    if not ctx.purpose.strip():
        return refuse(session, read, Refusal.purpose_required, (
            "say why this file is read (X-Citybase-Purpose): a file is read for a purpose"
        ))  # fmt: skip
    values: dict[str, Any] = {}
    masked: dict[str, str] = {}
    served_from: dict[str, str] = {}
    bases: list[str] = []
    grants: list[int] = []
    personal = False
    sources: dict[str, list[str]] = {}
    by_resource: dict[str, list[HeldValue]] = {}
    for value in held:
        by_resource.setdefault(value.resource_code, []).append(value)
    for code, items in by_resource.items():
        try:
            resource = catalog.get_resource(session, code)
        except NotFound:
            continue
        plan = masking.plan_for(session, code, resource)
        if principal.unit_code == resource.provider_unit_code or admin or keeper_basis:
            legal = (
                OWN_DATA_BASIS if principal.unit_code == resource.provider_unit_code
                else PLATFORM_BASIS if admin else keeper_basis
            )  # fmt: skip
            served_items = {v.item for v in items}
            mask = None
        else:
            grant, _, _ = _find_grant(session, principal, code)
            if grant is None:
                continue
            request = repository.request_by_id(session, grant.request_id)
            legal = request.legal_basis if request else ""
            grants.append(grant.id)
            served_items = {v.item for v in items if v.item in grant.fields}
            mask = masking.Masker(plan, keys, sorted(served_items))
            if served_items and any(v.field not in values for v in items):
                personal = personal or plan.level in PERSONAL_LEVELS
        rules = {f.item: f.rule.label() for f in plan.fields}
        for value in items:
            if value.item not in served_items or value.field in values:
                continue  # not granted here, or already served from another source
            shown = value.value
            if mask is not None:
                shown = mask.row({value.item: value.value}).get(value.item)
                if rules.get(value.item, "clear") != "clear":
                    masked[value.field] = rules[value.item]
            values[value.field] = shown
            served_from[value.field] = code
            sources.setdefault(code, []).append(value.item)
        if legal and legal not in bases and any(v.item in served_items for v in items):
            bases.append(legal)
    withheld = sorted({v.field for v in held} - set(values))
    read.legal_basis = "；".join(bases)
    read.fields = list(values)
    read.query = {"sources": sources}
    if not values:
        return refuse(session, read, Refusal.no_grant, (
            f"{principal.unit_code or 'this account'} holds no grant in force for any source "
            f"of {what}: request the resources it is built from ({', '.join(by_resource)})"
        ))  # fmt: skip
    if personal and not ctx.case_number:
        return refuse(session, read, Refusal.case_number_required, (
            f"{what} holds personal information: name the case in the X-Citybase-Issue header"
        ))  # fmt: skip
    if personal and principal.api_key_id is not None and not ctx.end_user:
        return refuse(session, read, Refusal.end_user_required, (
            f"{what} holds personal information: a system names the person it reads for "
            "in the X-Citybase-UserId header"
        ))  # fmt: skip
    tags = ops.subject_tags(subject_values, keys)
    access = log_read(session, read, Outcome.allowed, rows=1, subject_tags=tags,
                  extra={"grants": grants, "withheld": withheld})  # fmt: skip
    return ServedValues(values, withheld, masked, bases, served_from, access.id)


def _held_under(
    session: Session, read: Read, held: list[HeldValue], subject_values: set[str],
    keys: ops.Keys, basis: Basis,
) -> ServedValues | Refused:  # fmt: skip
    """``read_held_values`` under a basis other than a grant (the subject's consent)."""
    if not read.stated_purpose.strip():
        return refuse(session, read, Refusal.purpose_required, (
            f"{basis.kind} {basis.ref} states no purpose: a file is read for a purpose"
        ))  # fmt: skip
    values: dict[str, Any] = {}
    masked: dict[str, str] = {}
    served_from: dict[str, str] = {}
    reasons: dict[str, str] = {}
    sources: dict[str, list[str]] = {}
    for value in held:
        if value.field in values:
            continue  # already served from another source
        try:
            resource = catalog.get_resource(session, value.resource_code)
        except NotFound:
            reasons.setdefault(value.field, f"资源 {value.resource_code} 已不在目录中")
            continue
        if resource.share_type == ShareType.none:
            reasons.setdefault(value.field, f"资源 {resource.name}（{resource.code}）在目录中"
                               "为不予共享，不能据申请人授权调取")  # fmt: skip
            continue
        if basis.fields and value.item not in basis.fields:
            reasons.setdefault(value.field, f"申请人授权未涵盖数据项 {value.item}")
            continue
        shown = value.value
        if not basis.in_clear:
            plan = _stricter(session, masking.plan_for(session, resource.code, resource),
                             basis.mask_level)  # fmt: skip
            shown = (
                masking.Masker(plan, keys, [value.item]).row({value.item: shown}).get(value.item)
            )
            rule = {f.item: f.rule.label() for f in plan.fields}.get(value.item, "clear")
            if rule != "clear":
                masked[value.field] = rule
        values[value.field] = shown
        served_from[value.field] = resource.code
        sources.setdefault(resource.code, []).append(value.item)
        reasons.pop(value.field, None)
    withheld = sorted({v.field for v in held} - set(values))
    read.fields = list(values)
    read.query = {"sources": sources}
    if not values:
        return refuse(session, read, Refusal.not_shared if reasons else Refusal.no_grant, (
            "; ".join(sorted(set(reasons.values()))) or "nothing of this file may be read"
        ))  # fmt: skip
    tags = ops.subject_tags(subject_values, keys)
    access = log_read(session, read, Outcome.allowed, rows=1, subject_tags=tags,
                      extra={"withheld": withheld, "basis": basis.kind})  # fmt: skip
    return ServedValues(values, withheld, masked, [basis.legal_basis], served_from, access.id,
                        {f: reasons[f] for f in withheld if f in reasons})  # fmt: skip


def to_csv(fields: list[str], rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(fields)
    for row in rows:
        writer.writerow(["" if row.get(f) is None else row.get(f) for f in fields])
    return ("\ufeff" + out.getvalue()).encode()  # BOM: spreadsheet programs read it as UTF-8


def to_json(rows: list[dict[str, Any]]) -> bytes:
    return json.dumps(rows, ensure_ascii=False, default=str).encode()


# --- the access log ----------------------------------------------------------------------------


def _may_audit(principal: Principal) -> bool:
    return principal.can(SHARE_AUDIT)


def find_accesses(
    session: Session, principal: Principal, flt: AccessFilter, keys: ops.Keys
) -> AccessPage:
    """Reads of shared data. An auditor (and the platform) sees every unit's, and may look a
    data subject up; anyone else sees the reads of its own unit's data and by its own unit."""
    if flt.subject and not _may_audit(principal):
        raise Forbidden("looking a data subject up is for auditors", field="subject")
    unit = None if _may_audit(principal) else principal.unit_code
    subject = ops.subject_tag(flt.subject, keys) if flt.subject else None
    total, found = repository.accesses(session, flt, unit_code=unit, subject=subject)
    return AccessPage(total=total, accesses=[AccessRead.model_validate(a) for a in found])


def summary(
    session: Session, principal: Principal, *, as_provider: bool, resource_code: str | None = None
) -> list[AccessSummary]:
    """Reads grouped by resource and the unit on the other side: who reads our data
    (``as_provider``) or what we read."""
    unit = None if principal.has_role(Role.platform_admin) else principal.unit_code
    return [
        AccessSummary(
            unit_code=other,
            resource_code=code,
            allowed=allowed,
            refused=refused,
            rows=rows,
            last_at=last,
        )
        for other, code, allowed, refused, rows, last in repository.access_summary(
            session, unit, as_provider=as_provider, resource_code=resource_code
        )
    ]


def _ledger_entries_of(session: Session, masking_key: str, subject_id: str) -> set[int]:
    """The ledger entries of the reads that served ``subject_id``'s record (the ledger page's
    data-subject search)."""
    return repository.ledger_seqs_of_subject(
        session, ops.subject_tag(subject_id, ops.keys_for(masking_key))
    )


ledger.add_subject_finder(_ledger_entries_of)
