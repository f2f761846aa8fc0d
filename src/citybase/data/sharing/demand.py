"""The demand list (需求清单) and supply–demand matching (供需对接).

A unit posts the data it needs and cannot find; providers answer with a resource that meets it,
a plan to collect it, or a no; the unit turns an offer into a share request, which then follows
the resource's share type like any other.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal, Role
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import Status
from citybase.data.sharing import repository, service
from citybase.data.sharing.models import Demand, DemandAnswer
from citybase.data.sharing.schemas import (
    AnswerCreate,
    AnswerKind,
    AnswerRead,
    DemandCreate,
    DemandMatch,
    DemandRead,
    DemandStatus,
    RequestCreate,
    RequestRead,
)


def _read(session: Session, demand: Demand) -> DemandRead:
    answers = [AnswerRead.model_validate(a) for a in repository.answers(session, demand.id)]
    return DemandRead.model_validate(demand).model_copy(update={"answers": answers})


def _get(session: Session, number: str) -> Demand:
    demand = repository.demand_by_number(session, number)
    if demand is None:
        raise NotFound(f"no demand {number}", field="number")
    return demand


def post(session: Session, principal: Principal, data: DemandCreate) -> DemandRead:
    if not principal.unit_code:
        raise Forbidden("a demand is posted for a unit; this account has none", field="unit")
    prefix = f"DM{clock.today():%Y%m%d}"  # the city's day, as every number
    demand = Demand(
        number=f"{prefix}{repository.count_demands_with_prefix(session, prefix) + 1:04d}",
        consumer_unit_code=principal.unit_code, posted_by=principal.username, title=data.title,
        description=data.description, purpose=data.purpose, legal_basis=data.legal_basis,
        items=data.items, provider_unit_code=data.provider_unit_code,
        status=DemandStatus.open.value,
    )  # fmt: skip
    repository.add(session, demand)
    ledger.record(session, actor_of(principal), "sharing.demand.post", object_type="demand",
                  object_id=demand.number, reason=data.purpose,
                  details={"title": data.title, "provider": data.provider_unit_code})  # fmt: skip
    return _read(session, demand)


def list_demands(
    session: Session, status: DemandStatus | None = None, unit_code: str | None = None
) -> list[DemandRead]:
    """The demand list, open to every unit so that providers can answer (newest first)."""
    found = repository.demands(session, status=status.value if status else None, unit=unit_code)
    return [_read(session, d) for d in found]


def get(session: Session, number: str) -> DemandRead:
    return _read(session, _get(session, number))


def answer(session: Session, principal: Principal, number: str, data: AnswerCreate) -> DemandRead:
    """A provider's steward answers; an offer names one of its unit's shared resources."""
    demand = _get(session, number)
    if demand.status in (DemandStatus.matched.value, DemandStatus.closed.value):
        raise Conflict(f"demand {number} is {demand.status}", field="status")
    if not principal.unit_code or principal.unit_code == demand.consumer_unit_code:
        raise Forbidden("a demand is answered by another unit's steward", field="number")
    if data.kind is AnswerKind.offer:
        if not data.resource_code:
            raise InvalidInput("an offer names the resource that meets the demand",
                               field="resource_code")  # fmt: skip
        resource = catalog.get_accessible_resource(session, principal, data.resource_code)
        if resource.provider_unit_code != principal.unit_code:
            raise Forbidden("offer your own unit's resources", field="resource_code")
        if resource.status not in (Status.registered, Status.published):
            raise Conflict(f"{resource.code} is {resource.status.value}: offer a registered or "
                           "published resource", field="resource_code")  # fmt: skip
    elif not data.message.strip():
        raise InvalidInput("say when it will be collected, or why it cannot be", field="message")
    row = DemandAnswer(
        demand_id=demand.id, provider_unit_code=principal.unit_code,
        answered_by=principal.username, answered_at=datetime.now(UTC), kind=data.kind.value,
        resource_code=data.resource_code if data.kind is AnswerKind.offer else "",
        message=data.message,
    )  # fmt: skip
    repository.add(session, row)
    demand.status = DemandStatus.answered.value
    session.flush()
    ledger.record(session, actor_of(principal), "sharing.demand.answer", object_type="demand",
                  object_id=number, reason=data.message,
                  details={"kind": data.kind.value, "resource": row.resource_code})  # fmt: skip
    return _read(session, demand)


def match(session: Session, principal: Principal, number: str, data: DemandMatch) -> RequestRead:
    """The demanding unit takes an offer: a share request with the demand's purpose and basis."""
    demand = _get(session, number)
    if principal.unit_code != demand.consumer_unit_code:
        raise Forbidden("the unit that posted the demand takes its offers", field="number")
    if demand.status == DemandStatus.matched.value:
        raise Conflict(f"demand {number} already became request {demand.request_number}",
                       field="status")  # fmt: skip
    offer = next(
        (a for a in repository.answers(session, demand.id) if a.id == data.answer_id), None
    )
    if offer is None or offer.kind != AnswerKind.offer.value:
        raise InvalidInput(f"answer {data.answer_id} is not an offer to {number}",
                           field="answer_id")  # fmt: skip
    request = service.request_share(
        session, principal,
        RequestCreate(
            resource_code=offer.resource_code, purpose=demand.purpose,
            legal_basis=demand.legal_basis, fields=data.fields, days=data.days,
            api_key_ids=data.api_key_ids,
        ),
    )  # fmt: skip
    demand.status, demand.request_number = DemandStatus.matched.value, request.number
    session.flush()
    ledger.record(session, actor_of(principal), "sharing.demand.match", object_type="demand",
                  object_id=number, case_number=request.number,
                  details={"resource": offer.resource_code})  # fmt: skip
    return request


def close(session: Session, principal: Principal, number: str, reason: str) -> DemandRead:
    demand = _get(session, number)
    if principal.unit_code != demand.consumer_unit_code and not principal.has_role(
        Role.platform_admin
    ):
        raise Forbidden("the unit that posted the demand closes it", field="number")
    if demand.status in (DemandStatus.matched.value, DemandStatus.closed.value):
        raise Conflict(f"demand {number} is {demand.status}", field="status")
    demand.status = DemandStatus.closed.value
    session.flush()
    ledger.record(session, actor_of(principal), "sharing.demand.close", object_type="demand",
                  object_id=number, reason=reason)  # fmt: skip
    return _read(session, demand)
