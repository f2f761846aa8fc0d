"""Incremental linking: a load's new and changed rows are linked against the kept model and the
existing files, from the bus, without training or re-linking the rest."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core.bus import repository as bus_repository
from citybase.core.bus.schemas import EventEnvelope
from citybase.core.bus.service import JobContext
from citybase.core.errors import Forbidden
from citybase.core.ledger.models import LedgerEntry
from citybase.core.settings import Settings
from citybase.data.baselib import link_updates, repository, service, tasks
from citybase.data.baselib.models import BaseEntity, LinkRun
from citybase.data.baselib.schemas import Decision, Kind, ReviewDecide
from citybase.data.datastore import service as datastore
from citybase.data.datastore.schemas import RowsLoaded
from citybase.data.masking import operators as ops
from tests.data.baselib.factories import LinkedCity, health_rows, linked_city
from tests.data.sharing.factories import citizen_id, person_rows


def _run(session: Session, settings: Settings, city: LinkedCity) -> None:
    service.link_base_library(
        session, city.steward, Kind.person, settings.baselib, ops.keys_for(settings.masking_key)
    )


def _links(session: Session) -> dict[str, int]:
    return {link.record_uid: link.entity_id for link in repository.links(session, "person")}


def _link(session: Session, settings: Settings, city: LinkedCity, unit: str = "fz.health") -> Any:
    return link_updates.link_rows_of(
        session, Kind.person, city.health.code, settings.baselib,
        ops.keys_for(settings.masking_key), unit_code=unit,
    )  # fmt: skip


def _load(session: Session, city: LinkedCity, rows: list[dict[str, Any]]) -> None:
    datastore.load_rows(session, city.health_steward, city.health.code, rows, "test")


def _with_newcomers() -> list[dict[str, Any]]:
    urban_only = person_rows(6)[5]  # at fz.urban alone until now
    return [
        *health_rows(),
        {"姓名": urban_only["姓名"], "身份证号": urban_only["公民身份号码"],
         "联系电话": urban_only["手机号码"], "居住地址": "鼓楼区五四路6号"},
        {"姓名": "钱多多", "身份证号": citizen_id(91), "联系电话": "13700000091",
         "居住地址": "台江区工业路3号"},
    ]  # fmt: skip


def _ledger(session: Session, action: str) -> list[LedgerEntry]:
    return list(session.scalars(select(LedgerEntry).where(LedgerEntry.action == action)))


def test_new_rows_join_their_person_and_a_new_person_gets_a_new_file(
    session: Session, settings: Settings
) -> None:
    city = linked_city(session, settings)
    urban, health = city.shared.resource.code, city.health.code
    _run(session, settings, city)
    before = _links(session)
    _load(session, city, _with_newcomers())
    run = _link(session, settings, city)
    assert run is not None
    assert run.incremental
    # only the two new rows were linked: the six loaded again unchanged were left alone
    assert (run.records, run.model["unchanged"], run.model["linked"]) == (2, 6, 2)
    after = _links(session)
    assert {u: after[u] for u in before} == before
    assert after[f"{health}#7"] == after[f"{urban}#6"]
    newcomer = after[f"{health}#8"]
    assert newcomer not in before.values()
    assert run.model["created"] == [newcomer]
    entity = repository.entity(session, newcomer)
    assert entity is not None
    assert entity.records == 1
    assert entity.subject == ops.subject_tag(citizen_id(91), ops.keys_for(settings.masking_key))
    golden = {g.field: g.value for g in repository.golden(session, after[f"{urban}#6"])}
    assert golden["mobile"]  # the file of urban#6 now holds fz.health's values too
    joined = repository.entity(session, after[f"{urban}#6"])
    assert joined is not None
    assert joined.records == 2
    # on the ledger, with what it made and changed
    entry = _ledger(session, "baselib.link.incremental")[-1]
    assert entry.details["created"] == [newcomer]
    assert after[f"{urban}#6"] in entry.details["changed"]
    assert entry.actor == city.steward.username
    # the kept model is not replaced: the console's last run is still the full one
    last = service.last_run(session, city.steward, Kind.person, settings.baselib)
    assert last is not None
    assert not last.incremental


def test_a_replayed_event_changes_nothing(session: Session, settings: Settings) -> None:
    city = linked_city(session, settings)
    _run(session, settings, city)
    _load(session, city, _with_newcomers())
    envelope = next(
        EventEnvelope(event_id=e.event_id, topic=e.topic, payload=e.payload,
                      created_at=e.created_at)
        for e in reversed(bus_repository.undispatched(session, 500))
        if e.topic == RowsLoaded.topic and e.payload["code"] == city.health.code
    )  # fmt: skip
    for _ in range(2):  # the event, then the same event delivered again
        tasks.on_rows_loaded(session, envelope)
        tasks.link_rows(JobContext(session, settings, {
            "code": city.health.code, "unit_code": "fz.health", "event_id": envelope.event_id,
        }))  # fmt: skip
    runs = session.scalars(select(LinkRun).where(LinkRun.incremental.is_(True))).all()
    assert len(runs) == 1
    entities = session.scalars(select(BaseEntity).where(BaseEntity.records > 0)).all()
    snapshot = _links(session)
    assert _link(session, settings, city) is None
    assert _links(session) == snapshot
    assert len(session.scalars(select(BaseEntity).where(BaseEntity.records > 0)).all()) == len(
        entities
    )
    assert len(_ledger(session, "baselib.link.incremental")) == 1


def test_rows_moved_to_other_numbers_keep_their_files(session: Session, settings: Settings) -> None:
    city = linked_city(session, settings)
    health = city.health.code
    _run(session, settings, city)
    before = _links(session)
    rows = health_rows()
    _load(session, city, [rows[-1], *rows[:-1]])  # the last row first
    run = _link(session, settings, city)
    assert run is not None
    assert (run.records, run.model["moved"]) == (0, 6)
    after = _links(session)
    assert after[f"{health}#1"] == before[f"{health}#6"]
    assert after[f"{health}#2"] == before[f"{health}#1"]


def test_removed_rows_leave_their_files(session: Session, settings: Settings) -> None:
    city = linked_city(session, settings)
    health = city.health.code
    _run(session, settings, city)
    alone = _links(session)[f"{health}#6"]  # 赵敏, only at fz.health
    _load(session, city, health_rows()[:5])
    run = _link(session, settings, city)
    assert run is not None
    assert run.model["removed"] == 1
    assert f"{health}#6" not in _links(session)
    entity = repository.entity(session, alone)
    assert entity is not None
    assert entity.records == 0
    assert repository.golden(session, alone) == []


def test_a_split_decision_binds_an_incremental_link(session: Session, settings: Settings) -> None:
    city = linked_city(session, settings)
    health = city.health.code
    sibling_row = {"姓名": "张杰", "身份证号": "", "联系电话": "", "居住地址": "鼓楼区五四路1号"}
    _load(session, city, [*health_rows(), sibling_row])
    settings.baselib.match_threshold = 0.99999
    _run(session, settings, city)
    sibling = f"{health}#7"
    queue = service.list_reviews(session, city.steward, Kind.person, settings.baselib)
    about = [r for r in queue if sibling in (r.left_uid, r.right_uid)]
    assert about
    for item in about:
        service.decide_review(session, city.steward, item.id,
                              ReviewDecide(decision=Decision.apart, reason="兄弟二人"),
                              settings.baselib)  # fmt: skip
    settings.baselib.match_threshold = 0.99  # the score alone would join them
    changed = {**sibling_row, "居住地址": "福州市鼓楼区五四路1号"}  # the row changed: linked again
    _load(session, city, [*health_rows(), changed])
    run = _link(session, settings, city)
    assert run is not None
    assert run.records == 1
    after = _links(session)
    for item in about:
        assert after[item.left_uid] != after[item.right_uid]
    still = service.list_reviews(session, city.steward, Kind.person, settings.baselib)
    assert not [r for r in still if sibling in (r.left_uid, r.right_uid)]  # not asked again


def test_nothing_is_linked_before_a_full_run_keeps_a_model(
    session: Session, settings: Settings
) -> None:
    city = linked_city(session, settings)
    assert _link(session, settings, city) is None
    assert repository.links(session, "person") == []


def test_a_unit_cannot_link_another_units_resource(session: Session, settings: Settings) -> None:
    city = linked_city(session, settings)
    _run(session, settings, city)
    before = _links(session)
    events = len(bus_repository.undispatched(session, 500))
    urban_steward = city.shared.people["urbansteward"]
    with pytest.raises(Forbidden):  # loading rows into fz.health's resource
        datastore.load_rows(session, urban_steward, city.health.code, _with_newcomers(), "x")
    assert len(bus_repository.undispatched(session, 500)) == events
    _load(session, city, _with_newcomers())  # fz.health's own load, waiting to be linked
    with pytest.raises(Forbidden):  # an event claiming fz.urban's load of it
        _link(session, settings, city, unit="fz.urban")
    tasks.link_rows(JobContext(session, settings, {
        "code": city.health.code, "unit_code": "fz.urban", "event_id": "forged",
    }))  # fmt: skip
    assert _links(session) == before
    assert _ledger(session, "baselib.link.incremental") == []
    assert _link(session, settings, city) is not None  # fz.health's own event links them


def test_the_cycle_collector_is_back_after_a_link_refused_or_done(
    session: Session, settings: Settings
) -> None:
    import gc

    city = linked_city(session, settings)
    _run(session, settings, city)
    _load(session, city, _with_newcomers())
    assert gc.isenabled()
    with pytest.raises(Forbidden):
        _link(session, settings, city, unit="fz.urban")
    assert gc.isenabled()
    assert _link(session, settings, city) is not None
    assert gc.isenabled()
    gc.disable()  # a caller that paused it keeps it paused
    try:
        _link(session, settings, city)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_changed_row_alone_in_its_file_keeps_the_file(
    session: Session, settings: Settings
) -> None:
    city = linked_city(session, settings)
    health = city.health.code
    _run(session, settings, city)
    before = _links(session)
    rows = health_rows()
    rows[5] = {**rows[5], "联系电话": "13700000099"}  # 赵敏, only at fz.health, a new phone
    _load(session, city, rows)
    run = _link(session, settings, city)
    assert run is not None
    assert (run.records, run.model["created"]) == (1, [])
    assert _links(session) == before
    golden = {g.field: g.value for g in repository.golden(session, before[f"{health}#6"])}
    assert golden["mobile"] == "13700000099"
