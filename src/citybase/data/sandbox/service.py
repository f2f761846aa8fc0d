"""The privacy-computing sandbox (隐私计算沙箱, 数据可用不可见): personal data that never leaves
the platform answers aggregate questions under differential privacy.

- A resource's steward **declares** it: the identifier column (the privacy unit), the rows one
  person may contribute, the categorical columns with their public keys, the numeric columns with
  their bounds (``declare_resource``).
- The steward or the bureau **grants** a unit (or one of its users) a privacy budget, ε per month
  or year, revocable (``grant_budget``, ``revoke_grant``).
- An analyst **asks** in a small SQL dialect or in structured form (``ask_query``): the query is
  checked against the declaration and the grant, the budget is looked at, the rows come through
  the one traced read of shared data (``read_rows_under`` with a basis of kind ``sandbox``),
  OpenDP computes the answer, and the budget is spent by a conditional UPDATE (the answer kept
  only if it was). A refused query is kept with its rule, on the ledger, and spends nothing.

The request owns the transaction; nothing here commits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.errors import Forbidden, InvalidInput, NotFound
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Principal, Role
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.orgs import service as orgs
from citybase.core.settings import ProductsSettings
from citybase.data.baselib import service as baselib
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import ResourceRead
from citybase.data.datastore.schemas import RowQuery
from citybase.data.masking import operators as ops
from citybase.data.masking import service as masking
from citybase.data.products import agreements as products
from citybase.data.sandbox import dialect, mechanisms, privacy_units, repository
from citybase.data.sandbox.auth import SANDBOX_GOVERN, SANDBOX_QUERY
from citybase.data.sandbox.dialect import QueryRefused
from citybase.data.sandbox.models import SandboxDeclaration, SandboxGrant, SandboxQuery
from citybase.data.sandbox.schemas import (
    Answer,
    DeclarationCreate,
    DeclarationRead,
    GrantCreate,
    GrantRead,
    GrantState,
    Period,
    PrivacyUnit,
    QueryCreate,
    QueryRead,
    QuerySpec,
    QueryStatus,
    Revocation,
    from_micro,
    from_pico,
    to_micro,
    to_pico,
)
from citybase.data.sharing import service as sharing
from citybase.data.sharing.schemas import Basis, ReadContext

__all__ = [
    "ContractBasis",
    "QueryRefused",
    "ask_query",
    "declare_resource",
    "get_accessible_grants",
    "get_accessible_queries",
    "get_declaration",
    "grant_budget",
    "grant_in_force",
    "list_declarations",
    "query_resource",
    "revoke_grant",
]

# the mask a numeric column may bear and still be summed: values left as they are
_NUMERIC_SAFE = {"clear"}


@dataclass(frozen=True)
class ContractBasis:
    """A data-product contract a query is asked under (沙箱交付): its number and legal basis
    replace the grant's in the traced read, and its purpose is the read's. The privacy budget
    is still the customer's grant on the resource: a contract does not widen ε."""

    ref: str
    legal_basis: str
    purpose: str
    consumer: str


def query_resource(data: QueryCreate) -> str | None:
    """The resource a query asks of, or None when its SQL does not parse (the query, asked,
    is then refused with the dialect's rule)."""
    if data.query is not None:
        return data.query.resource_code
    try:
        return dialect.parse_sql(data.sql or "").resource_code
    except QueryRefused:
        return None


# --- declarations ---------------------------------------------------------------------------------


def _masking(session: Session, resource: ResourceRead, columns: list[str]) -> dict[str, str]:
    plan = masking.plan_for(session, resource.code, resource)
    rules = {f.item: f.rule.label() for f in plan.fields}
    return {c: rules.get(c, "clear") for c in columns}


def _declaration_read(
    session: Session, row: SandboxDeclaration, resource: ResourceRead | None = None
) -> DeclarationRead:
    resource = resource or catalog.get_resource(session, row.resource_code)
    columns = [row.identifier, *row.categorical, *row.numeric]
    return DeclarationRead(
        resource_code=row.resource_code, provider_unit_code=row.provider_unit_code,
        identifier=row.identifier, max_rows_per_person=row.max_rows_per_person,
        categorical=row.categorical, numeric=row.numeric, declared_by=row.declared_by,
        privacy_unit=row.privacy_unit or PrivacyUnit.person.value,
        updated_at=row.updated_at, masking=_masking(session, resource, columns),
        theme_library=baselib.theme_of_resource(session, row.resource_code) or "",
    )  # fmt: skip


def resolve_code(session: Session, code: str) -> str:
    """The catalog resource a sandbox call names: a resource's code, or a theme library's
    (主题库), which is read and queried as its catalog resource."""
    return baselib.theme_resource_code(session, code) or code


def may_declare(principal: Principal, provider_unit_code: str) -> bool:
    """Whether ``principal`` declares the resources of ``provider_unit_code``: its stewards
    (and the platform admins)."""
    if principal.has_role(Role.platform_admin):
        return True
    return principal.can(SANDBOX_GOVERN) and principal.unit_code == provider_unit_code


def is_bureau(principal: Principal, settings: ProductsSettings) -> bool:
    """The bureau grants and revokes budgets on every declared resource."""
    return products.is_bureau(principal, settings)


def _require_steward_of(principal: Principal, resource: ResourceRead, what: str) -> None:
    if principal.has_role(Role.platform_admin):
        return
    if principal.can(SANDBOX_GOVERN) and principal.unit_code == resource.provider_unit_code:
        return
    raise Forbidden(
        f"only the data stewards of {resource.provider_unit_code} (the providing unit) {what} "
        f"{resource.code} (rule sandbox.steward)", field="resource_code", rule="sandbox.steward",
    )  # fmt: skip


def declare_resource(
    session: Session, principal: Principal, code: str, data: DeclarationCreate
) -> DeclarationRead:
    """Make a resource available to the sandbox (or change how): its providing unit's steward.
    Every declared column must be one of its data items; a numeric column must reach the
    computation as a number, so one its grade masks is refused. A theme library is declared by
    its code or its catalog resource's."""
    code = resolve_code(session, code)
    resource = catalog.get_resource(session, code)
    _require_steward_of(principal, resource, "declare")
    items = {item.name for item in resource.items}
    named = {"identifier": [data.identifier], "categorical": list(data.categorical),
             "numeric": list(data.numeric)}  # fmt: skip
    for field, columns in named.items():
        for column in columns:
            if column not in items:
                raise InvalidInput(f"{code} has no data item {column}", field=f"{field}.{column}")
    if data.identifier in data.categorical or data.identifier in data.numeric:
        raise InvalidInput("the identifier is never asked about: declare it only as identifier",
                           field="identifier")  # fmt: skip
    if both := set(data.categorical) & set(data.numeric):
        raise InvalidInput(f"{sorted(both)[0]} is declared both categorical and numeric",
                           field="numeric")  # fmt: skip
    for column, keys in data.categorical.items():
        if len(set(keys)) != len(keys):
            raise InvalidInput(f"{column}: a key is given twice", field=f"categorical.{column}")
    masks = _masking(session, resource, list(data.numeric))
    for column, rule in masks.items():
        if rule not in _NUMERIC_SAFE:
            raise InvalidInput(
                f"{column} is masked ({rule}) at {code}'s grade, so it reaches the computation "
                "as no number: declare it categorical, or not at all",
                field=f"numeric.{column}", rule="declaration.numeric_masked",
            )  # fmt: skip
    row = repository.declaration(session, code)
    values: dict[str, Any] = {
        "identifier": data.identifier, "max_rows_per_person": data.max_rows_per_person,
        "categorical": {k: list(v) for k, v in data.categorical.items()},
        "numeric": {k: b.model_dump() for k, b in data.numeric.items()},
        "declared_by": principal.username, "privacy_unit": data.privacy_unit.value,
    }  # fmt: skip
    if row is None:
        row = SandboxDeclaration(
            resource_code=code, provider_unit_code=resource.provider_unit_code, **values
        )
        repository.add(session, row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = datetime.now(UTC)
        session.flush()
    ledger.record(
        session, actor_of(principal), "sandbox.declare", object_type="data_resource",
        object_id=code, details=values | {"masking": _masking(session, resource, list(items))},
    )  # fmt: skip
    return _declaration_read(session, row, resource)


def _declared(row: SandboxDeclaration) -> DeclarationCreate:
    return DeclarationCreate.model_validate({
        "identifier": row.identifier, "max_rows_per_person": row.max_rows_per_person,
        "categorical": row.categorical,
        "numeric": row.numeric, "privacy_unit": row.privacy_unit or PrivacyUnit.person.value,
    })  # fmt: skip


def get_declaration(session: Session, code: str) -> DeclarationRead:
    """What a resource offers to the sandbox: public to every analyst (column names, keys and
    bounds are what one asks with; no row is in it)."""
    row = repository.declaration(session, resolve_code(session, code))
    if row is None:
        raise NotFound(f"{code} is not available in the sandbox", field="resource_code")
    return _declaration_read(session, row)


def list_declarations(session: Session) -> list[DeclarationRead]:
    return [_declaration_read(session, row) for row in repository.declarations(session)]


# --- grants of privacy budget ---------------------------------------------------------------------


def period_key(period: str, today: Any = None) -> str:
    """The period a budget is spent in, in the city's calendar: 2026-12 for a month, 2026."""
    day = today or clock.today()
    return f"{day:%Y-%m}" if period == Period.month.value else f"{day:%Y}"


def state_of(grant: SandboxGrant) -> GrantState:
    if grant.revoked_at is not None:
        return GrantState.revoked
    if grant.valid_until is not None and grant.valid_until < clock.today():
        return GrantState.expired
    return GrantState.in_force


def _grant_reads(session: Session, grants: list[SandboxGrant]) -> list[GrantRead]:
    keys = {g.id: period_key(g.period) for g in grants}
    spent: dict[int, int] = {}
    spent_delta: dict[int, int] = {}
    for key in set(keys.values()):
        spent |= repository.spent(session, [g for g, k in keys.items() if k == key], key)
        spent_delta |= repository.spent_delta(
            session, [g for g, k in keys.items() if k == key], key
        )
    reads = []
    for g in grants:
        used = spent.get(g.id, 0)
        reads.append(GrantRead(
            id=g.id, resource_code=g.resource_code, unit_code=g.unit_code, username=g.username,
            epsilon=from_micro(g.epsilon_micro), period=Period(g.period), purpose=g.purpose,
            legal_basis=g.legal_basis, valid_until=g.valid_until, granted_by=g.granted_by,
            created_at=g.created_at, state=state_of(g), revoked_at=g.revoked_at,
            revoked_by=g.revoked_by, revoke_reason=g.revoke_reason, period_key=keys[g.id],
            share_request=g.share_request or "",
            spent=from_micro(used), remaining=from_micro(max(g.epsilon_micro - used, 0)),
            delta=from_pico(g.delta_pico), delta_spent=from_pico(spent_delta.get(g.id, 0)),
            delta_remaining=from_pico(max(g.delta_pico - spent_delta.get(g.id, 0), 0)),
        ))  # fmt: skip
    return reads


def _require_granter(
    principal: Principal, settings: ProductsSettings, resource: ResourceRead
) -> None:
    if products.is_bureau(principal, settings):
        return
    _require_steward_of(principal, resource, "grant budgets on")


def grant_budget(
    session: Session, principal: Principal, settings: ProductsSettings, data: GrantCreate
) -> GrantRead:
    """Grant a unit (or one of its users) ε per period on a declared resource: its providing
    unit's stewards, or the bureau. The providing unit itself reads its rows directly."""
    data = data.model_copy(update={"resource_code": resolve_code(session, data.resource_code)})
    resource = catalog.get_resource(session, data.resource_code)
    _require_granter(principal, settings, resource)
    if repository.declaration(session, data.resource_code) is None:
        raise InvalidInput(f"{data.resource_code} is not declared to the sandbox: its steward "
                           "declares it first", field="resource_code")  # fmt: skip
    orgs.get_unit(session, data.unit_code)  # NotFound for a unit that does not exist
    if data.unit_code == resource.provider_unit_code:
        raise InvalidInput(f"{data.unit_code} provides {resource.code}: it reads its own rows "
                           "without the sandbox", field="unit_code")  # fmt: skip
    if data.username:
        try:
            user = identity.get_user_by_username(session, data.username)
        except NotFound:
            user = None
        if user is None or user.unit_code != data.unit_code:
            raise InvalidInput(f"{data.username} is not a user of {data.unit_code}",
                               field="username")  # fmt: skip
    if data.valid_until is not None and data.valid_until < clock.today():
        raise InvalidInput("valid_until is in the past", field="valid_until")
    grant = SandboxGrant(
        resource_code=data.resource_code, unit_code=data.unit_code, username=data.username,
        epsilon_micro=to_micro(data.epsilon), delta_pico=to_pico(data.delta),
        period=data.period.value, purpose=data.purpose,
        legal_basis=data.legal_basis, valid_until=data.valid_until,
        granted_by=principal.username,
    )  # fmt: skip
    repository.add(session, grant)
    ledger.record(
        session, actor_of(principal), "sandbox.grant", object_type="sandbox_grant",
        object_id=grant.id, reason=data.purpose,
        details=data.model_dump(mode="json") | {"epsilon_micro": grant.epsilon_micro,
                                                "delta_pico": grant.delta_pico},
    )  # fmt: skip
    return _grant_reads(session, [grant])[0]


def revoke_grant(
    session: Session, principal: Principal, settings: ProductsSettings, grant_id: int,
    data: Revocation,
) -> GrantRead:  # fmt: skip
    grant = repository.grant(session, grant_id)
    if grant is None:
        raise NotFound(f"no sandbox grant {grant_id}", field="grant_id")
    resource = catalog.get_resource(session, grant.resource_code)
    try:
        _require_granter(principal, settings, resource)
    except Forbidden:  # a stranger learns nothing of another unit's grants
        raise NotFound(f"no sandbox grant {grant_id}", field="grant_id") from None
    if grant.revoked_at is not None:
        raise InvalidInput(f"grant {grant_id} is already revoked", field="grant_id")
    grant.revoked_at = datetime.now(UTC)
    grant.revoked_by = principal.username
    grant.revoke_reason = data.reason
    session.flush()
    ledger.record(
        session, actor_of(principal), "sandbox.grant.revoke", object_type="sandbox_grant",
        object_id=grant.id, reason=data.reason, details={"resource_code": grant.resource_code},
    )  # fmt: skip
    return _grant_reads(session, [grant])[0]


def _stewarded(
    session: Session, principal: Principal, settings: ProductsSettings
) -> list[str] | None:
    """The resources whose grants and queries ``principal`` oversees; ``None``: all of them."""
    if products.is_bureau(principal, settings):
        return None
    if not principal.can(SANDBOX_GOVERN) or not principal.unit_code:
        return []
    return [d.resource_code for d in repository.declarations(session, principal.unit_code)]


def get_accessible_grants(
    session: Session, principal: Principal, settings: ProductsSettings
) -> list[GrantRead]:
    """An analyst: the grants held by their unit (to all of it, or to them); a steward also
    those on their unit's resources; the bureau every one."""
    held: dict[int, SandboxGrant] = {}
    if principal.unit_code and principal.can(SANDBOX_QUERY):
        for g in repository.grants(session, unit_code=principal.unit_code,
                                   username=principal.username):  # fmt: skip
            held[g.id] = g
    overseen = _stewarded(session, principal, settings)
    if overseen is None or overseen:
        for g in repository.grants(session, resource_codes=overseen):
            held[g.id] = g
    return _grant_reads(session, sorted(held.values(), key=lambda g: -g.id))


# --- queries --------------------------------------------------------------------------------------


def _query_read(row: SandboxQuery, remaining: float | None = None) -> QueryRead:
    answer = Answer.model_validate(row.answer) if row.answer else None
    return QueryRead(
        id=row.id, created_at=row.created_at, username=row.username, unit_code=row.unit_code,
        resource_code=row.resource_code, grant_id=row.grant_id, form=row.form, text=row.text,
        epsilon=from_micro(row.epsilon_micro), delta=from_pico(row.delta_pico), status=QueryStatus(row.status), rule=row.rule,
        message=row.message, answer=answer, access_id=row.access_id, remaining=remaining,
    )  # fmt: skip


def grant_in_force(session: Session, principal: Principal, code: str) -> SandboxGrant:
    """The caller's grant on ``code`` in force now (its unit's or its own), or QueryRefused
    naming why there is none; DP queries and code jobs alike run under it."""
    if not principal.unit_code:
        raise QueryRefused("grant.none", "sandbox queries are asked for a unit; this account "
                           "has none", status=403, field="resource_code")  # fmt: skip
    held = repository.grants(session, unit_code=principal.unit_code, username=principal.username,
                             resource_code=code)  # fmt: skip
    in_force = [g for g in held if state_of(g) is GrantState.in_force]
    if in_force:
        return in_force[0]
    if held:
        latest = held[0]
        if state_of(latest) is GrantState.revoked:
            assert latest.revoked_at is not None
            raise QueryRefused("grant.revoked", (
                f"sandbox grant {latest.id} on {code} was revoked on "
                f"{latest.revoked_at:%Y-%m-%d}: {latest.revoke_reason}"
            ), status=403, field="resource_code")  # fmt: skip
        raise QueryRefused("grant.expired", (
            f"sandbox grant {latest.id} on {code} ended on {latest.valid_until}"
        ), status=403, field="resource_code")  # fmt: skip
    raise QueryRefused("grant.none", (
        f"{principal.unit_code} holds no sandbox grant on {code}: ask its steward or the bureau"
    ), status=403, field="resource_code")  # fmt: skip


def _rows(
    session: Session, principal: Principal, row: SandboxQuery, grant: SandboxGrant,
    declared: SandboxDeclaration, spec: QuerySpec, keys: ops.Keys,
    contract: ContractBasis | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """The rows the query needs, through the one traced read: only its columns and the
    identifier, masked by grade, in the access log under the sandbox basis (or the contract
    the query is asked under)."""
    fields = tuple(dict.fromkeys([declared.identifier, *mechanisms.used_columns(spec)]))
    basis = Basis(
        kind="sandbox", ref=str(row.id), legal_basis=grant.legal_basis, fields=fields,
        purpose=grant.purpose, consumer=principal.unit_code, action="sandbox.query",
    )  # fmt: skip
    if contract is not None:
        basis = Basis(
            kind="contract", ref=contract.ref, legal_basis=contract.legal_basis, fields=fields,
            purpose=contract.purpose, consumer=contract.consumer, action="sandbox.query",
        )  # fmt: skip
    result = sharing.read_rows_under(
        session, principal, spec.resource_code, ReadContext(purpose=basis.purpose),
        RowQuery(fields=list(fields)), keys, basis, operation="sandbox",
        up_to=mechanisms.MAX_ROWS + 1,
    )  # fmt: skip
    page = getattr(result, "page", None)
    if page is None:  # refused, and traced as refused by the read itself
        refusal = getattr(result, "refusal")  # noqa: B009
        row.access_id = getattr(result, "access_id")  # noqa: B009
        raise QueryRefused(f"read.{refusal.value}", str(getattr(result, "message")),  # noqa: B009
                           status=refusal.status)  # fmt: skip
    row.access_id = page.access_id
    if page.total > mechanisms.MAX_ROWS:
        raise QueryRefused("query.too_large", (
            f"{spec.resource_code} has {page.total} rows: a sandbox query reads at most "
            f"{mechanisms.MAX_ROWS}"
        ), status=422)  # fmt: skip
    rows: list[dict[str, Any]] = page.rows
    return rows


def _check_delta(session: Session, grant: SandboxGrant, key: str, delta_pico: int) -> None:
    """δ asked beyond what is left of the grant's δ this period is refused before anything is
    read (a grant without δ allows pure ε-DP only)."""
    if delta_pico <= 0:
        return
    used = repository.spent_delta(session, [grant.id], key).get(grant.id, 0)
    if used + delta_pico > grant.delta_pico:
        raise QueryRefused("budget.delta_exceeded", (
            f"this query asks δ={from_pico(delta_pico)}; grant {grant.id} has "
            f"{from_pico(max(grant.delta_pico - used, 0))} left of {from_pico(grant.delta_pico)} "
            f"for {key}"
        ), status=403, field="delta")  # fmt: skip


def ask_query(
    session: Session, principal: Principal, data: QueryCreate, keys: ops.Keys,
    contract: ContractBasis | None = None,
) -> tuple[QueryRead, QueryRefused | None]:  # fmt: skip
    """Answer a query under the analyst's grant, or refuse it: a refused query is returned
    (status ``refused``, with the refusal naming its rule and field), kept and on the ledger,
    and spends nothing; the caller commits either way. Under ``contract`` (a data product's
    sandbox delivery, decided by the contract's policy before) the read is traced with the
    contract as its basis; the ε is still spent from the grant."""
    text = data.sql if data.sql is not None else json.dumps(
        data.query.model_dump(mode="json") if data.query else {}, ensure_ascii=False)  # fmt: skip
    cost = to_micro(data.epsilon)
    delta_cost = to_pico(data.delta)
    row = SandboxQuery(
        username=principal.username, unit_code=principal.unit_code or "",
        resource_code=data.query.resource_code if data.query else "",
        form="sql" if data.sql is not None else "json", text=text, epsilon_micro=cost,
        delta_pico=delta_cost,
    )  # fmt: skip
    repository.add(session, row)
    remaining: float | None = None
    try:
        if cost <= 0:
            raise QueryRefused("budget.epsilon", "ε must be at least 0.000001", field="epsilon")
        spec = dialect.parse_sql(data.sql) if data.sql is not None else data.query
        assert spec is not None
        spec = spec.model_copy(update={"resource_code": resolve_code(session, spec.resource_code)})
        row.resource_code = spec.resource_code
        declared = repository.declaration(session, spec.resource_code)
        if declared is None:
            raise QueryRefused("sandbox.not_declared", (
                f"{spec.resource_code} is not available in the sandbox"
            ), status=404, field="resource_code")  # fmt: skip
        declaration = _declared(declared)
        dialect.check(spec, declaration)
        grant = grant_in_force(session, principal, spec.resource_code)
        row.grant_id = grant.id
        row.period_key = period_key(grant.period)
        used = repository.spent(session, [grant.id], row.period_key).get(grant.id, 0)
        if used + cost > grant.epsilon_micro:
            raise QueryRefused("budget.exceeded", (
                f"this query asks ε={from_micro(cost)}; grant {grant.id} has "
                f"{from_micro(max(grant.epsilon_micro - used, 0))} left of "
                f"{from_micro(grant.epsilon_micro)} for {row.period_key}"
            ), status=403, field="epsilon")  # fmt: skip
        _check_delta(session, grant, row.period_key, delta_cost)
        rows = _rows(session, principal, row, grant, declared, spec, keys, contract)
        by_person = privacy_units.apply(session, declared, rows, keys)  # 一人一档 ids
        columns = mechanisms.used_columns(spec)
        frame = mechanisms.frame(rows, declared.identifier, declaration, columns)
        answer = mechanisms.answer(spec, declaration, frame, data.epsilon, from_pico(delta_cost))
        # spent only now, and the answer kept only if it was: a failed computation spends
        # nothing, and of two queries racing for the last of a budget one is answered
        if not repository.spend(session, grant.id, row.period_key, grant.epsilon_micro, cost,
                                grant.delta_pico, delta_cost):  # fmt: skip
            raise QueryRefused("budget.exceeded", (
                f"grant {grant.id}'s budget for {row.period_key} was spent by another query "
                "meanwhile"
            ), status=403, field="epsilon")  # fmt: skip
    except QueryRefused as refused:
        row.status, row.rule, row.message = QueryStatus.refused.value, refused.rule, refused.message
        session.flush()
        ledger.record(
            session, actor_of(principal), "sandbox.query.refuse", object_type="sandbox_query",
            object_id=row.id, details={"resource_code": row.resource_code, "text": text,
                                       "epsilon": data.epsilon, "delta": data.delta,
                                       "rule": refused.rule,
                                       "message": refused.message, "access": row.access_id},
        )  # fmt: skip
        return _query_read(row), refused
    row.status = QueryStatus.answered.value
    row.answer = answer.model_dump(mode="json")
    session.flush()
    left = repository.spent(session, [grant.id], row.period_key).get(grant.id, 0)
    remaining = from_micro(grant.epsilon_micro - left)
    ledger.record(
        session, actor_of(principal), "sandbox.query.answer", object_type="sandbox_query",
        object_id=row.id, reason=grant.purpose,
        details={"resource_code": row.resource_code, "grant": grant.id, "text": text,
                 "epsilon": data.epsilon, "epsilon_spent": answer.epsilon_spent,
                 "delta": data.delta, "delta_spent": answer.delta_spent,
                 "delta_left": from_pico(grant.delta_pico - repository.spent_delta(
                     session, [grant.id], row.period_key).get(grant.id, 0)),
                 "period": row.period_key, "remaining": remaining, "access": row.access_id,
                 "groups": len(answer.rows), "contract": contract.ref if contract else None,
                 "privacy_unit": declared.privacy_unit, "rows_by_person": by_person},
    )  # fmt: skip
    return _query_read(row, remaining), None


def get_accessible_queries(
    session: Session, principal: Principal, settings: ProductsSettings, limit: int = 50
) -> list[QueryRead]:
    """One's own queries; a steward also those asked of their unit's resources; the bureau
    every one."""
    found = {q.id: q for q in repository.queries(session, username=principal.username,
                                                  limit=limit)}  # fmt: skip
    overseen = _stewarded(session, principal, settings)
    if overseen is None or overseen:
        for q in repository.queries(session, resource_codes=overseen, limit=limit):
            found[q.id] = q
    return [_query_read(q) for q in sorted(found.values(), key=lambda q: -q.id)[:limit]]


def get_accessible_query(
    session: Session, principal: Principal, settings: ProductsSettings, query_id: int
) -> QueryRead:
    row = repository.query(session, query_id)
    if row is not None and row.username != principal.username:
        overseen = _stewarded(session, principal, settings)
        if overseen is not None and row.resource_code not in overseen:
            row = None
    if row is None:
        raise NotFound(f"no sandbox query {query_id}", field="query_id")
    return _query_read(row)
