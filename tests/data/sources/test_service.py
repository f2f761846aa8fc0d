from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.db.engine import Database
from citybase.core.errors import Conflict, InvalidInput
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import Transition
from citybase.data.sources import service
from citybase.data.sources.schemas import Arbitration, ConflictDecision, SourceCreate
from tests.data.catalog.factories import catalog_people, make_resource

POPULATION = SourceCreate(
    data_kind="人口基本信息", unit_code="fz.bigdata", elements=["公民身份号码", "姓名", "出生日期"]
)
PEOPLE_ITEMS = [
    {"name": "身份证", "data_type": "string", "length": 18, "element": "公民身份号码"},
    {"name": "姓名", "data_type": "string", "length": 50, "element": "姓名"},
    {"name": "补贴", "data_type": "decimal", "element": "金额"},
]


def _registered(session: Session, people, **overrides):  # type: ignore[no-untyped-def]
    r = make_resource(session, people["urbansteward"], **overrides)
    catalog.transition(session, people["urbansteward"], r.code, "submit", Transition())
    for action in ("approve", "register"):
        catalog.transition(session, people["bureausteward"], r.code, action, Transition())
    return r


def test_a_unit_providing_anothers_data_is_a_conflict(session: Session) -> None:
    people = catalog_people(session)
    r = _registered(session, people, items=PEOPLE_ITEMS)
    service.register_source(session, people["bureausteward"], POPULATION)
    conflicts = service.list_conflicts(session, "open")
    assert [(c.resource_code, c.authoritative_unit_code, c.items) for c in conflicts] == [
        (r.code, "fz.bigdata", ["身份证", "姓名"])
    ]


def test_one_shared_key_is_a_reference_not_a_copy(session: Session) -> None:
    people = catalog_people(session)
    _registered(session, people, items=[PEOPLE_ITEMS[0], PEOPLE_ITEMS[2]])
    service.register_source(session, people["bureausteward"], POPULATION)
    assert service.list_conflicts(session) == []


def test_arbitration(session: Session) -> None:
    people = catalog_people(session)
    _registered(session, people, items=PEOPLE_ITEMS)
    service.register_source(session, people["bureausteward"], POPULATION)
    conflict = service.list_conflicts(session, "open")[0]
    settled = service.arbitrate(
        session, people["bureausteward"], conflict.id,
        ConflictDecision(decision=Arbitration.change_authority, reason="城管委为该数据的采集单位"),
    )  # fmt: skip
    assert settled.status == "settled"
    assert service.list_sources(session)[0].unit_code == "fz.urban"
    with pytest.raises(Conflict):
        service.arbitrate(
            session, people["bureausteward"], conflict.id,
            ConflictDecision(decision=Arbitration.exempt, reason="again"),
        )  # fmt: skip


def test_register_needs_a_real_unit(session: Session) -> None:
    people = catalog_people(session)
    with pytest.raises(InvalidInput) as caught:
        service.register_source(
            session, people["bureausteward"], POPULATION.model_copy(update={"unit_code": "nope"})
        )
    assert caught.value.field == "unit_code"


def test_overlaps_the_register_does_not_cover(session: Session) -> None:
    people = catalog_people(session)
    _registered(session, people, items=PEOPLE_ITEMS)
    make_resource(session, people["root"], provider_unit_code="fz.bigdata", items=PEOPLE_ITEMS,
                  name="另一份名单")  # fmt: skip
    other = make_resource(
        session, people["root"], provider_unit_code="gl.urban", items=PEOPLE_ITEMS
    )
    for action in ("submit", "approve", "register"):
        catalog.transition(session, people["root"], other.code, action, Transition())
    found = {o.element: o for o in service.overlaps(session)}
    assert set(found) == {"公民身份号码", "姓名", "金额"}
    assert found["公民身份号码"].units == ["fz.urban", "gl.urban"]
    assert found["公民身份号码"].proposed_unit == "fz.urban"  # both in a base library: the first


def test_detection_runs_when_a_resource_is_registered(fresh_db: Database) -> None:
    """The consumer on the catalog's events opens the conflict once the change commits."""
    with fresh_db.session_scope() as session:
        people = catalog_people(session)
        service.register_source(session, people["bureausteward"], POPULATION)
        _registered(session, people, items=PEOPLE_ITEMS)
        assert service.list_conflicts(session) == []  # nothing yet: the event is in the outbox
    bus.dispatch_in_process(fresh_db)
    with fresh_db.session_scope(readonly=True) as session:
        assert len(service.list_conflicts(session, "open")) == 1
