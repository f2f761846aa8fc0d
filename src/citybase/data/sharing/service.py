"""Sharing between units: a unit requests another unit's resource; the catalog's share type
decides what happens next.

- 无条件共享: granted at once, for the fields and days asked.
- 有条件共享: the providing unit's data steward approves (possibly fewer fields, fewer days) or
  refuses with a reason.
- 不予共享: refused at once, with the catalog's reason.

Data graded too high to leave as rows (不予共享, or 重要数据 and 核心数据) may instead be
answered in the privacy sandbox (以沙箱方式答复): the sandbox's ``answer_share_request`` checks
the request here (``sandbox_answerable``), grants a privacy budget and records the answer here
(``answer_in_sandbox``); no rows are granted.

A grant is scoped to fields, systems (the requester's API keys) and time; it ends by itself
when its time is up, or when the provider revokes it. Every step is on the ledger.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.bus import service as bus
from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Principal, Role
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import ResourceRead, ShareType, Status
from citybase.data.grading import service as grading
from citybase.data.grading.schemas import Level
from citybase.data.sharing import repository
from citybase.data.sharing.models import ShareGrant, ShareRequest
from citybase.data.sharing.schemas import (
    Basis,
    Decision,
    GrantChanged,
    GrantRead,
    GrantState,
    ReadContext,
    RequestCreate,
    RequestRead,
    RequestStatus,
    Revocation,
)
from citybase.data.sharing.trace import Refused as Refused  # what a refused read returns

if TYPE_CHECKING:
    from citybase.data.datastore.schemas import RowQuery
    from citybase.data.masking.operators import Keys
    from citybase.data.sharing.access import Served

CATALOG_RULE = Actor.system("catalog-share-type")


def _is_admin(principal: Principal) -> bool:
    return principal.has_role(Role.platform_admin)


def state_of(grant: ShareGrant, now: datetime | None = None) -> GrantState:
    if grant.revoked_at is not None:
        return GrantState.revoked
    if grant.valid_until <= (now or datetime.now(UTC)):
        return GrantState.expired
    return GrantState.in_force


def _grant_reads(session: Session, grants: list[ShareGrant]) -> list[GrantRead]:
    numbers = repository.request_numbers(session, [g.request_id for g in grants])
    now = datetime.now(UTC)
    return [
        GrantRead.model_validate(g).model_copy(
            update={"request_number": numbers.get(g.request_id, ""), "state": state_of(g, now)}
        )
        for g in grants
    ]


def _grant(
    session: Session, request: ShareRequest, fields: list[str], days: int, actor: Actor
) -> ShareGrant:
    now = datetime.now(UTC)
    grant = ShareGrant(
        request_id=request.id, resource_code=request.resource_code,
        provider_unit_code=request.provider_unit_code,
        consumer_unit_code=request.consumer_unit_code, fields=fields,
        api_key_ids=list(request.api_key_ids), granted_at=now,
        valid_until=now + timedelta(days=days),
    )  # fmt: skip
    repository.add(session, grant)
    ledger.record(
        session, actor, "sharing.grant", object_type="data_resource",
        object_id=request.resource_code, reason=request.legal_basis, case_number=request.number,
        details={"consumer": request.consumer_unit_code, "fields": fields, "days": days,
                 "api_keys": list(request.api_key_ids)},
    )  # fmt: skip
    bus.publish(session, GrantChanged(grant_id=grant.id, resource_code=grant.resource_code,
                                      consumer_unit_code=grant.consumer_unit_code, what="granted"))  # fmt: skip
    return grant


def request_share(session: Session, principal: Principal, data: RequestCreate) -> RequestRead:
    """Ask for another unit's resource for one's own unit."""
    resource = catalog.get_accessible_resource(session, principal, data.resource_code)
    if resource.status not in (Status.registered, Status.published):
        raise Conflict(f"{resource.code} is {resource.status.value}: only registered or "
                       "published resources are shared", field="resource_code")  # fmt: skip
    if not principal.unit_code:
        raise Forbidden("a request is made for a unit; this account has none", field="unit")
    if principal.unit_code == resource.provider_unit_code:
        raise Conflict("a unit reads its own data directly", field="resource_code")
    items = [i.name for i in resource.items]
    unknown = [f for f in data.fields if f not in items]
    if unknown:
        raise InvalidInput(
            f"not data items of {resource.code}: {', '.join(unknown)}", field="fields"
        )
    own_keys = {k.id for k in identity.list_api_keys(session, principal) if k.revoked_at is None}
    foreign = [k for k in data.api_key_ids if k not in own_keys]
    if foreign:
        raise InvalidInput(
            f"API keys {foreign} are not your own keys in force", field="api_key_ids"
        )
    prefix = f"SR{clock.today():%Y%m%d}"  # the city's day, as every number
    request = ShareRequest(
        number=f"{prefix}{repository.count_with_prefix(session, prefix) + 1:04d}",
        resource_code=resource.code, provider_unit_code=resource.provider_unit_code,
        consumer_unit_code=principal.unit_code, requested_by=principal.username,
        purpose=data.purpose, legal_basis=data.legal_basis,
        fields=[f for f in items if f in data.fields], days=data.days,
        api_key_ids=sorted(set(data.api_key_ids)), status=RequestStatus.pending.value,
    )  # fmt: skip
    repository.add(session, request)
    ledger.record(
        session, actor_of(principal), "sharing.request", object_type="data_resource",
        object_id=resource.code, reason=data.purpose, case_number=request.number,
        details={"fields": request.fields, "days": data.days, "legal_basis": data.legal_basis},
    )  # fmt: skip
    if resource.share_type is ShareType.unconditional:
        request.status, request.decided_by = RequestStatus.granted.value, CATALOG_RULE.name
        request.decided_at, request.reason = datetime.now(UTC), "无条件共享"
        _grant(session, request, list(request.fields), request.days, CATALOG_RULE)
    elif resource.share_type is ShareType.none:
        request.status, request.decided_by = RequestStatus.refused.value, CATALOG_RULE.name
        request.decided_at = datetime.now(UTC)
        request.reason = "不予共享" + (
            f"：{resource.share_condition}" if resource.share_condition else ""
        )
        ledger.record(session, CATALOG_RULE, "sharing.refuse", object_type="data_resource",
                      object_id=resource.code, reason=request.reason, case_number=request.number)  # fmt: skip
    session.flush()
    return RequestRead.model_validate(request)


def _may_decide(principal: Principal, provider_unit_code: str) -> bool:
    return _is_admin(principal) or principal.unit_code == provider_unit_code


def decide(session: Session, principal: Principal, number: str, data: Decision) -> RequestRead:
    """The provider's steward approves (possibly fewer fields or days) or refuses."""
    request = repository.request_by_number(session, number)
    if request is None or not (
        _may_decide(principal, request.provider_unit_code)
        or principal.unit_code == request.consumer_unit_code
    ):
        raise NotFound(f"no share request {number}", field="number")
    if not _may_decide(principal, request.provider_unit_code):
        raise Forbidden("requests are decided by the providing unit", field="number")
    if request.status != RequestStatus.pending.value:
        raise Conflict(f"request {number} is already {request.status}", field="status")
    if not data.approve and not data.reason.strip():
        raise InvalidInput("say why the request is refused", field="reason")
    fields = list(request.fields) if data.fields is None else data.fields
    if data.approve:
        extra = [f for f in fields if f not in request.fields]
        if extra or not fields:
            raise InvalidInput(f"grant some of the fields asked for ({', '.join(request.fields)})",
                               field="fields")  # fmt: skip
        if data.days is not None and data.days > request.days:
            raise InvalidInput(
                f"{request.days} days were asked for; grant that or fewer", field="days"
            )
    request.status = (RequestStatus.granted if data.approve else RequestStatus.refused).value
    request.decided_by, request.decided_at = principal.username, datetime.now(UTC)
    request.reason = data.reason
    session.flush()
    if data.approve:
        ordered = [f for f in request.fields if f in fields]
        _grant(session, request, ordered, data.days or request.days, actor_of(principal))
    else:
        ledger.record(session, actor_of(principal), "sharing.refuse", object_type="data_resource",
                      object_id=request.resource_code, reason=data.reason, case_number=number)  # fmt: skip
    return RequestRead.model_validate(request)


# the grades whose rows never leave their unit as rows (GB/T 43697: important and core data)
ROWS_WITHHELD = {Level.important.value: "重要数据", Level.core.value: "核心数据"}


def rows_withheld(session: Session, resource: ResourceRead) -> str:
    """Why a resource's rows may not be shared as rows ("" when they may): 不予共享 in the
    catalog, or a grade above what leaves as rows. Such a request may be answered in the
    privacy sandbox instead."""
    if resource.share_type is ShareType.none:
        return "不予共享"
    return ROWS_WITHHELD.get(grading.level_of(session, resource.code), "")


def sandbox_answerable(session: Session, principal: Principal, number: str) -> RequestRead:
    """The request, if ``principal`` may answer it in the sandbox: a steward of the providing
    unit (or a platform admin), the request waiting (or refused by the catalog's 不予共享 rule
    alone, which no steward decided), its rows withheld by share type or grade. Raises
    otherwise: another unit learns nothing of it (not found), the consumer is forbidden."""
    request = repository.request_by_number(session, number)
    if request is None or not (
        _may_decide(principal, request.provider_unit_code)
        or principal.unit_code == request.consumer_unit_code
    ):
        raise NotFound(f"no share request {number}", field="number")
    if not _may_decide(principal, request.provider_unit_code):
        raise Forbidden("requests are decided by the providing unit", field="number")
    by_catalog = (request.status == RequestStatus.refused.value
                  and request.decided_by == CATALOG_RULE.name)  # fmt: skip
    if request.status != RequestStatus.pending.value and not by_catalog:
        raise Conflict(f"request {number} is already {request.status}", field="status")
    resource = catalog.get_resource(session, request.resource_code)
    if not rows_withheld(session, resource):
        raise Conflict(
            f"{resource.code} may be shared as rows: approve or refuse request {number}",
            field="number", rule="sharing.rows_allowed",
        )  # fmt: skip
    return RequestRead.model_validate(request)


def answer_in_sandbox(
    session: Session, principal: Principal, number: str, sandbox_grant_id: int, reason: str
) -> RequestRead:
    """Record that a request was answered by a sandbox grant instead of rows (以沙箱方式答复):
    the sandbox made the grant, in the same transaction, after ``sandbox_answerable``."""
    sandbox_answerable(session, principal, number)
    request = repository.request_by_number(session, number)
    assert request is not None
    request.status = RequestStatus.sandboxed.value
    request.decided_by, request.decided_at = principal.username, datetime.now(UTC)
    request.reason = reason or "以沙箱方式答复"
    request.sandbox_grant_id = sandbox_grant_id
    session.flush()
    ledger.record(
        session, actor_of(principal), "sharing.sandbox", object_type="data_resource",
        object_id=request.resource_code, reason=request.reason, case_number=number,
        details={"consumer": request.consumer_unit_code, "sandbox_grant": sandbox_grant_id},
    )  # fmt: skip
    return RequestRead.model_validate(request)


def withdraw(session: Session, principal: Principal, number: str) -> RequestRead:
    request = repository.request_by_number(session, number)
    if request is None or request.consumer_unit_code != principal.unit_code:
        raise NotFound(f"no share request {number}", field="number")
    if request.status != RequestStatus.pending.value:
        raise Conflict(f"request {number} is already {request.status}", field="status")
    request.status = RequestStatus.withdrawn.value
    session.flush()
    ledger.record(session, actor_of(principal), "sharing.withdraw", object_type="data_resource",
                  object_id=request.resource_code, case_number=number)  # fmt: skip
    return RequestRead.model_validate(request)


def revoke(session: Session, principal: Principal, grant_id: int, data: Revocation) -> GrantRead:
    """The provider ends a grant before its time."""
    grant = repository.grant(session, grant_id)
    if grant is None or not _may_decide(principal, grant.provider_unit_code):
        raise NotFound(f"no grant {grant_id}", field="grant")
    if grant.revoked_at is not None:
        raise Conflict(f"grant {grant_id} is already revoked", field="status")
    grant.revoked_at, grant.revoked_by, grant.revoke_reason = (
        datetime.now(UTC), principal.username, data.reason,
    )  # fmt: skip
    session.flush()
    ledger.record(session, actor_of(principal), "sharing.revoke", object_type="data_resource",
                  object_id=grant.resource_code, reason=data.reason,
                  details={"grant": grant.id, "consumer": grant.consumer_unit_code})  # fmt: skip
    bus.publish(session, GrantChanged(grant_id=grant.id, resource_code=grant.resource_code,
                                      consumer_unit_code=grant.consumer_unit_code, what="revoked"))  # fmt: skip
    return _grant_reads(session, [grant])[0]


def list_requests(
    session: Session, principal: Principal, status: RequestStatus | None = None
) -> list[RequestRead]:
    """Requests one's unit made or received (all, for the platform)."""
    unit = None if _is_admin(principal) else principal.unit_code
    found = repository.requests(session, unit_code=unit, status=status.value if status else None)
    return [RequestRead.model_validate(r) for r in found]


def list_grants(
    session: Session, principal: Principal, resource_code: str | None = None
) -> list[GrantRead]:
    """Grants one's unit gave or holds (all, for the platform)."""
    unit = None if _is_admin(principal) else principal.unit_code
    return _grant_reads(
        session, repository.grants(session, unit_code=unit, resource_code=resource_code)
    )


def shared_resource_count(session: Session, at: datetime | None = None) -> int:
    """How many resources some unit reads from another under a grant in force at ``at``
    (now by default): granted before it, neither expired nor revoked by then."""
    now = at or datetime.now(UTC)
    return len({g.resource_code for g in repository.all_grants(session)
                if g.granted_at <= now and (g.revoked_at is None or g.revoked_at > now)
                and g.valid_until > now})  # fmt: skip


def grant_for(session: Session, principal: Principal, resource_code: str) -> GrantRead | None:
    """The grant in force under which the principal reads a resource: one held by its unit
    and, for an API key, one that names the key. ``None`` when there is none."""
    now = datetime.now(UTC)
    for grant in repository.grants(
        session, unit_code=principal.unit_code, resource_code=resource_code
    ):
        if (
            grant.consumer_unit_code != principal.unit_code
            or state_of(grant, now) is not GrantState.in_force
        ):
            continue
        if principal.api_key_id is not None and principal.api_key_id not in grant.api_key_ids:
            continue
        return _grant_reads(session, [grant])[0]
    return None


def file_subjects(session: Session, reads: int = 500) -> int:
    """File the data subjects of the oldest ``reads`` recent reads into the subject index (the
    worker's job; a look-up finds them either way). Returns how many entries moved."""
    return repository.file_subjects(session, reads)


def read_rows_under(
    session: Session,
    principal: Principal,
    code: str,
    ctx: ReadContext,
    request: RowQuery,
    keys: Keys,
    basis: Basis,
    *,
    operation: str = "rows",
    up_to: int | None = None,
) -> Served | Refused:
    """The one traced read (``access.py``) under a basis that is not a grant — a product
    contract, later a sandbox release or a consent: the fields it covers, masked by grade,
    on the ledger and in the access log with the basis named. A refusal is returned (and
    traced), not raised; the caller commits either way."""
    from citybase.data.sharing import access  # the read builds on this module's grant states

    return access.read_rows_under(
        session, principal, code, ctx, request, keys, basis, operation=operation, up_to=up_to
    )


def refuse_under(
    session: Session, principal: Principal, code: str, ctx: ReadContext, basis: Basis,
    message: str,
) -> Refused:  # fmt: skip
    """Trace a read under ``basis`` that the domain holding the basis refused (its rule in
    ``message``): the same ledger entry and access-log row as any refused read."""
    from citybase.data.sharing import access

    return access.refuse_under(session, principal, code, ctx, basis, message)
