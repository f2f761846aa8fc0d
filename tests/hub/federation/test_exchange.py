"""The exchange between a city's deployment and a district's, message by message (the stream
left out: what one side sends is applied on the other as the bridge would)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from citybase.core.db import migrate
from citybase.core.db.engine import Database
from citybase.core.ledger.models import LedgerEntry
from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import Action, ActionIn, CaseFilter, CaseState, Satisfaction
from citybase.hub.federation import service
from citybase.hub.federation.schemas import MESSAGES, CaseChanged, FiguresRolledUp
from tests.hub.cases.factories import ROAD, mover
from tests.hub.federation.factories import CITY, DISTRICT, deployment, scope, settle, wire


@pytest.fixture
def city(fresh_db: Database) -> Database:
    deployment(fresh_db, "city")
    return fresh_db


@pytest.fixture
def district(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'district.db'}")
    migrate.upgrade(db.engine)
    deployment(db, "district")
    yield db
    db.dispose()


def _take_in(db: Database) -> str:
    with scope(db) as session:
        data = ROAD.model_copy(update={"category_code": ""})  # waits for the centre
        return cases.intake(session, cases.Mover.system("test"), data).case.number


def _act(db: Database, who: str | None, number: str, action: Action, **data: object) -> None:
    with scope(db) as session:
        m = mover(session, who) if who else cases.Mover.system("centre")
        cases.act(session, m, number, action, ActionIn.model_validate(data))


def _state(db: Database, number: str) -> str:
    with scope(db) as session:
        return str(cases.get_for_system(session, number).state)


def _ledger(db: Database, action: str) -> list[LedgerEntry]:
    with scope(db) as session:
        return list(session.scalars(select(LedgerEntry).where(LedgerEntry.action == action)))


def test_escalated_up_dispatched_down_and_handled_back(city: Database, district: Database) -> None:
    number = _take_in(district)
    _act(district, None, number, Action.escalate, note="需要市水利局协同")
    assert wire(district, city)[0].startswith("taken in as ")
    with scope(city) as session:
        [link] = service.links(session)
        here = link.case_number
        assert link.peer_number == number
        assert link.peer_state == "accepted"
        assert cases.get_for_system(session, here).brain_code == CITY
    # the city sends it back down to the district's own bureau
    _act(city, None, here, Action.dispatch, lead_unit="gl.urban", category_code="010202")
    receipt, dispatched = wire(city, district)
    assert receipt.startswith(f"take_in: taken in as {here}")
    assert dispatched == f"dispatch taken on {number}"
    assert _state(district, number) == "dispatched"
    # the district's bureau handles it; the district's centre follows up and closes
    _act(district, "gl.handler", number, Action.sign)
    _act(district, "gl.handler", number, Action.note, note="已安排补装井盖")
    _act(district, "gl.handler", number, Action.reply, reply="井盖已补装")
    _act(district, None, number, Action.follow_up, satisfaction=Satisfaction.satisfied)
    _act(district, None, number, Action.close)
    outcomes = wire(district, city)
    assert outcomes[0] == f"dispatch: dispatch taken on {number}"  # the district's receipt
    assert [o.split(" taken on ")[0] for o in outcomes[1:]] == [
        "sign", "note", "reply", "follow_up", "close"]  # fmt: skip
    assert _state(city, here) == _state(district, number) == CaseState.closed
    with scope(city) as session:
        assert cases.get_for_system(session, here).reply == "井盖已补装"
        assert service.link_of_case(session, here).peer_state == "closed"  # type: ignore[union-attr]
    with scope(district) as session:
        assert service.link_of_case(session, number).peer_number == here  # type: ignore[union-attr]
    # the steps taken because the other side took them go back only as receipts, which are
    # answered by nothing
    receipts = wire(city, district)
    assert [r.split(":")[0] for r in receipts] == ["sign", "note", "reply", "follow_up", "close"]
    assert wire(district, city) == []
    with scope(district) as session:
        assert service.link_of_case(session, number).peer_state == "closed"  # type: ignore[union-attr]
    # both ledgers: every message sent on its sender's, received on its receiver's
    assert len(_ledger(district, "hub.federation.sent")) == 7
    assert len(_ledger(city, "hub.federation.received")) == 7
    assert len(_ledger(city, "hub.federation.sent")) == 7
    assert len(_ledger(district, "hub.federation.received")) == 7


def test_assigned_down_when_the_city_dispatches_to_a_district_unit(
    city: Database, district: Database
) -> None:
    number = _take_in(city)
    _act(city, None, number, Action.dispatch, lead_unit="gl.urban", category_code="010202")
    [outcome] = wire(city, district)
    assert outcome.startswith("taken in as ")
    assert "dispatched to gl.urban" in outcome
    with scope(district) as session:
        there = service.links(session)[0].case_number
        case = cases.get_for_system(session, there)
        assert (case.state, case.lead_unit, case.brain_code) == ("dispatched", "gl.urban", DISTRICT)
    _act(district, "gl.handler", there, Action.sign)
    receipt, signed = wire(district, city)
    assert receipt.startswith(f"take_in: taken in as {there}")
    assert signed == f"sign taken on {number}"
    assert _state(city, number) == "signed"


def test_a_message_delivered_twice_changes_nothing_twice(
    city: Database, district: Database
) -> None:
    number = _take_in(district)
    _act(district, None, number, Action.escalate, note="上报")
    settle(district)
    with scope(district) as session:
        [(_, _, _, payload)] = service.unsent(session)
    message = MESSAGES.validate_python(payload)
    with scope(city) as session:
        first = service.receive(session, message)
    with scope(city) as session:
        again = service.receive(session, message)
        assert again == "duplicate: already received"
        assert len(service.links(session)) == 1
        assert len(cases.find_all(session, CaseFilter())[0]) == 1
    assert first.startswith("taken in as ")
    assert len(_ledger(city, "hub.federation.received")) == 1


def test_a_step_that_comes_before_an_earlier_one_waits_for_it(
    city: Database, district: Database
) -> None:
    number = _take_in(city)
    _act(city, None, number, Action.dispatch, lead_unit="gl.urban", category_code="010202")
    wire(city, district)
    with scope(district) as session:
        there = service.links(session)[0].case_number
    _act(district, "gl.handler", there, Action.sign)
    _act(district, "gl.handler", there, Action.note, note="处理中")
    settle(district)
    with scope(district) as session:
        rows = service.unsent(session)
    taken, sign, note = (MESSAGES.validate_python(r[3]) for r in rows)
    assert isinstance(sign, CaseChanged)
    assert isinstance(note, CaseChanged)
    assert (sign.seq, note.seq) == (2, 3)
    with pytest.raises(service.OutOfOrder), scope(city) as session:
        service.receive(session, note)
    assert _state(city, number) == "dispatched"  # the refused one left nothing
    for message in (taken, sign, note):
        with scope(city) as session:
            service.receive(session, message)
    assert _state(city, number) == "handling"


def test_a_message_for_another_link_is_refused_and_kept(city: Database, district: Database) -> None:
    # the district's deployment takes nothing meant for another district, nor anything going up
    other = FiguresRolledUp(district_code="350103", direction="down", sent_by=CITY, since=datetime(2026, 12, 1, tzinfo=UTC),
                            figures={}, open_cases=1, overdue=0)  # fmt: skip
    wrong_way = other.model_copy(update={"district_code": DISTRICT, "direction": "up",
                                         "message_id": "m-2"})  # fmt: skip
    for message in (other, wrong_way):
        with scope(district) as session:
            assert service.receive(session, message).startswith("refused: ")
    with scope(district) as session:
        assert not any(p.figures for p in service.status(session))
        assert len(service.messages(session)) == 2


def test_figures_go_up_and_the_city_keeps_the_latest(city: Database, district: Database) -> None:
    number = _take_in(district)
    with scope(district) as session:
        assert service.roll_up(session)
    wire(district, city)
    with scope(city) as session:
        [peer] = service.status(session)
    assert peer.code == DISTRICT
    assert peer.figures["cases"] == 1
    assert peer.figures["open_cases"] == 1
    assert peer.lag_in_seconds is not None
    assert peer.lag_in_seconds >= 0
    assert number


def test_the_city_pushes_taxonomy_catalog_and_calendar_down(
    city: Database, district: Database, tmp_path: Path
) -> None:
    from citybase.core.ledger.schemas import Actor
    from citybase.hub.dispatch import service as dispatch
    from citybase.hub.dispatch.schemas import RuleIn
    from citybase.hub.events import service as events

    home = tmp_path / "city"
    home.mkdir()
    (home / "calendar.yaml").write_text("holidays: [2027-01-01]\nworkdays: [2027-02-07]\n")
    with scope(city) as session:
        dispatch.put_rule(session, Actor.system("test"), RuleIn(
            category_code="0303", region_code=CITY, lead_unit="fz.police"))  # fmt: skip
        for push in (service.push_taxonomy, service.push_catalog):
            assert push(session, Actor.system("test")) == 1
        assert service.push_calendar(session, Actor.system("test"), home) == 1
        categories = len(events.categories(session, active_only=False))
    with scope(district) as session:
        dispatch.delete_rule(session, Actor.system("test"), dispatch.rules(session)[0].id)
    district_home = tmp_path / "district"
    settle(city)
    with scope(city) as session:
        rows = service.unsent(session)
    outcomes = []
    for _, _, _, payload in rows:
        with scope(district) as session:
            outcomes.append(service.receive(session, MESSAGES.validate_python(payload),
                                            home=district_home))  # fmt: skip
    assert outcomes[0].startswith("taxonomy: 0 new")
    assert f"{categories} same" in outcomes[0]
    assert outcomes[1] == "catalog: 3 lines taken, 0 left out"
    assert outcomes[2] == "calendar: 1 holidays, 1 working days"
    with scope(district) as session:
        assert {(r.category_code, r.region_code) for r in dispatch.rules(session)} == {
            ("0102", "350102"), ("0102", "350103"), ("0303", CITY)}  # fmt: skip
    assert "2027-02-07" in (district_home / "calendar.yaml").read_text()


def test_pushing_needs_a_district_that_runs_its_own_brain(district: Database) -> None:
    from citybase.core.errors import InvalidInput
    from citybase.core.ledger.schemas import Actor

    with pytest.raises(InvalidInput) as raised, scope(district) as session:
        service.push_taxonomy(session, Actor.system("test"))
    assert raised.value.field == "role"


def test_steps_that_cross_while_cut_off_are_listed_until_a_person_settles_them(
    city: Database, district: Database
) -> None:
    number = _take_in(city)
    _act(city, None, number, Action.dispatch, lead_unit="gl.urban", category_code="010202")
    wire(city, district)
    with scope(district) as session:
        there = service.links(session)[0].case_number
    _act(district, "gl.handler", there, Action.sign)
    wire(district, city)
    wire(city, district)
    assert _state(city, number) == _state(district, there) == "signed"
    # cut off: the district's bureau replies while the city's centre reassigns it elsewhere
    _act(district, "gl.handler", there, Action.reply, reply="井盖已补装")
    _act(city, None, number, Action.reassign, lead_unit="tj.urban", note="改由台江处理")
    assert wire(district, city)[0].startswith("not taken here: ")
    assert any(o.startswith("not taken here: ") for o in wire(city, district))
    wire(district, city)  # the district's answer: the reassignment was not taken there
    with scope(city) as session:
        [apart] = service.disagreements(session)
        assert (apart.case_number, apart.peer_number) == (number, there)
        assert (apart.state, apart.peer_state) == ("dispatched", "replied")
        assert "not taken here" in apart.why
        assert [p.disagreeing for p in service.status(session)] == [1]
    with scope(district) as session:
        [apart] = service.disagreements(session)
        assert (apart.state, apart.peer_state) == ("replied", "dispatched")
    # the city's centre settles it: the new unit confirms the reply, and both sides agree
    _act(city, "tj.handler", number, Action.sign)
    _act(city, "tj.handler", number, Action.reply, reply="已核实，井盖已补装")
    wire(city, district)
    wire(district, city)
    assert _state(city, number) == _state(district, there) == "replied"
    for db in (city, district):
        with scope(db) as session:
            assert service.disagreements(session) == []
            assert [p.disagreeing for p in service.status(session)] == [0]


def test_steps_that_cross_and_are_both_taken_are_listed_too(
    city: Database, district: Database
) -> None:
    number = _take_in(city)
    _act(city, None, number, Action.dispatch, lead_unit="gl.urban", category_code="010202")
    wire(city, district)
    with scope(district) as session:
        there = service.links(session)[0].case_number
    wire(district, city)
    # at the same moment: the district's bureau signs while the city's centre takes it back
    _act(district, "gl.handler", there, Action.sign)
    _act(city, None, number, Action.reassign, lead_unit="gl.civil", note="改派")
    for _ in range(3):
        wire(district, city)
        wire(city, district)
    here, yonder = _state(city, number), _state(district, there)
    assert here != yonder  # each took the other's step after its own: they crossed
    with scope(city) as session:
        [apart] = service.disagreements(session)
        assert (apart.state, apart.peer_state) == (here, yonder)
    with scope(district) as session:
        [apart] = service.disagreements(session)
        assert apart.state == yonder
        assert apart.why.startswith("steps crossed: reassign was taken there from dispatched")
    # settled: the city's centre sends it to the district's bureau again, which signs it
    _act(city, None, number, Action.reassign, lead_unit="gl.urban", note="仍由鼓楼城管办理")
    wire(city, district)
    _act(district, "gl.handler", there, Action.sign)
    for _ in range(3):
        wire(district, city)
        wire(city, district)
    assert _state(city, number) == _state(district, there) == "signed"
    for db in (city, district):
        with scope(db) as session:
            assert service.disagreements(session) == []
