"""One data, one source (一数一源).

The register names, for each kind of data, the unit that is its authoritative source and the
data elements that make it (人口基本信息 → 市公安局: 公民身份号码, 姓名, 出生日期 …). A registered or
published resource of another unit whose items follow those elements is a conflict: listed with
the authoritative unit proposed as its source, until a steward arbitrates it. Detection runs
when a resource is registered or published (a consumer of the catalog's events) and on demand.
Elements provided by several units that the register does not cover yet are reported as
overlaps, with a proposed source.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.bus.schemas import EventEnvelope
from citybase.core.errors import Conflict, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import ResourceChanged, ResourceRead
from citybase.data.sources import repository
from citybase.data.sources.models import AuthoritativeSource, SourceConflict
from citybase.data.sources.schemas import (
    Arbitration,
    ConflictDecision,
    ConflictRead,
    Overlap,
    SourceCreate,
    SourceRead,
)

DETECTOR = Actor.system("one-data-one-source")


def list_sources(session: Session) -> list[SourceRead]:
    registered = repository.sources(session)
    names = orgs.unit_names(session, {s.unit_code for s in registered})
    return [
        SourceRead.model_validate(s).model_copy(update={"unit_name": names.get(s.unit_code, "")})
        for s in registered
    ]


def register_source(session: Session, principal: Principal, data: SourceCreate) -> SourceRead:
    """Name (or change) the authoritative unit of a kind of data."""
    try:
        orgs.get_unit(session, data.unit_code)
    except NotFound as exc:
        raise InvalidInput(f"unit {data.unit_code} does not exist", field="unit_code") from exc
    source = repository.source_by_kind(session, data.data_kind)
    before = source.unit_code if source else None
    if source is None:
        source = AuthoritativeSource(**data.model_dump())
        repository.add(session, source)
    else:
        source.unit_code, source.elements, source.legal_basis = (
            data.unit_code, data.elements, data.legal_basis,
        )  # fmt: skip
        session.flush()
    ledger.record(
        session, actor_of(principal), "sources.register", object_type="data_kind",
        object_id=data.data_kind, reason=data.legal_basis,
        details={"unit": data.unit_code, "before": before, "elements": data.elements},
    )  # fmt: skip
    detect_all(session)
    return next(s for s in list_sources(session) if s.data_kind == data.data_kind)


def _matching_items(resource: ResourceRead, source: AuthoritativeSource) -> list[str]:
    wanted = set(source.elements)
    return [i.name for i in resource.items if i.element in wanted or i.name in wanted]


def detect_for(session: Session, resource: ResourceRead) -> list[ConflictRead]:
    """Open a conflict for each kind of data the resource provides from outside its source."""
    found = []
    for source in repository.sources(session):
        if source.unit_code == resource.provider_unit_code:
            continue
        items = _matching_items(resource, source)
        # one shared element is a reference (a resource keyed by ID number); two or more is
        # providing the data itself
        if len(items) < min(2, len(source.elements)):
            continue
        existing = repository.conflict(session, resource.code, source.data_kind)
        if existing is None:
            existing = SourceConflict(
                resource_code=resource.code, data_kind=source.data_kind,
                provider_unit_code=resource.provider_unit_code,
                authoritative_unit_code=source.unit_code, items=items,
                detected_at=datetime.now(UTC), status="open",
            )  # fmt: skip
            repository.add(session, existing)
            ledger.record(
                session, DETECTOR, "sources.conflict", object_type="data_resource",
                object_id=resource.code,
                details={"data_kind": source.data_kind, "source": source.unit_code, "items": items},
            )  # fmt: skip
        found.append(ConflictRead.model_validate(existing))
    return found


def detect_all(session: Session) -> int:
    """Run detection over every registered and published resource; returns open conflicts."""
    for resource in catalog.registered_resources(session):
        detect_for(session, resource)
    return len(repository.conflicts(session, "open"))


@bus.consumer("data.sources.detect", ResourceChanged.topic)
def on_resource_changed(session: Session, envelope: EventEnvelope) -> None:
    event = ResourceChanged.model_validate(envelope.payload)
    if event.what in {"registered", "register", "published", "publish"}:
        detect_for(session, catalog.get_resource(session, event.code))


def list_conflicts(session: Session, status: str | None = None) -> list[ConflictRead]:
    return [ConflictRead.model_validate(c) for c in repository.conflicts(session, status)]


def arbitrate(
    session: Session, principal: Principal, conflict_id: int, data: ConflictDecision
) -> ConflictRead:
    """Settle a conflict; ``change_authority`` makes the provider the kind's source."""
    found = repository.conflict_by_id(session, conflict_id)
    if found is None:
        raise NotFound(f"no conflict {conflict_id}", field="conflict_id")
    if found.status != "open":
        raise Conflict(f"conflict {conflict_id} was already settled", field="status")
    if data.decision is Arbitration.change_authority:
        source = repository.source_by_kind(session, found.data_kind)
        if source is not None:
            source.unit_code = found.provider_unit_code
            session.flush()
    found.status = "settled"
    found.decision = data.decision.value
    found.decided_by = principal.username
    found.reason = data.reason
    found.decided_at = datetime.now(UTC)
    session.flush()
    ledger.record(
        session, actor_of(principal), f"sources.arbitrate.{data.decision.value}",
        object_type="data_resource", object_id=found.resource_code, reason=data.reason,
        details={"data_kind": found.data_kind, "source": found.authoritative_unit_code},
    )  # fmt: skip
    return ConflictRead.model_validate(found)


def overlaps(session: Session) -> list[Overlap]:
    """Data elements several units provide that no register entry covers, with a proposal: the
    unit holding it in a base library, else the one that registered it first."""
    covered = {e for s in repository.sources(session) for e in s.elements}
    by_element: dict[str, list[ResourceRead]] = defaultdict(list)
    for resource in catalog.registered_resources(session):
        for item in resource.items:
            if item.element and item.element not in covered:
                by_element[item.element].append(resource)
    result = []
    for element, resources in sorted(by_element.items()):
        units = sorted({r.provider_unit_code for r in resources})
        if len(units) < 2:
            continue
        in_base = [r for r in resources if r.base_tags]
        chosen = (in_base or sorted(resources, key=lambda r: r.created_at))[0]
        why = "它在基础库中提供该数据" if in_base else "它最先登记该数据"
        result.append(
            Overlap(
                element=element, units=units, resources=sorted({r.code for r in resources}),
                proposed_unit=chosen.provider_unit_code, why=why,
            )
        )  # fmt: skip
    return result
