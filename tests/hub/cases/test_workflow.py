from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.bus.models import OutboxEvent
from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Role
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.core.orgs import boundaries
from citybase.core.settings import HubSettings
from citybase.demo.seed import BOUNDARIES_FILE
from citybase.hub.cases import service
from citybase.hub.cases.models import Case
from citybase.hub.cases.schemas import (
    Action,
    ActionIn,
    CaseCreate,
    CaseState,
    Satisfaction,
    Source,
)
from citybase.hub.dispatch import classifier as learning
from citybase.hub.dispatch import service as dispatch
from tests.core.identity.factories import make_user, principal_of
from tests.hub.cases.factories import ROAD, SYSTEM, city, mover

# Tuesday 2026-11-24, 10:00 in Fuzhou
MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
NOW = MONDAY + timedelta(days=1)


def _act(session: Session, who: str, number: str, action: Action, **fields: object):  # type: ignore[no-untyped-def]
    return service.act(session, mover(session, who), number, action,
                       ActionIn.model_validate(fields), now=NOW)  # fmt: skip


def test_a_case_goes_from_intake_to_the_citizens_verdict(session: Session) -> None:
    city(session)
    taken = service.intake(session, mover(session, "operator"), ROAD, now=MONDAY)
    case = taken.case
    assert case.number.startswith("FZ20261123")
    assert (case.district_code, case.street_code, case.community_code) == (
        "350102", "350102001", "350102001001")  # fmt: skip
    assert case.reporter_phone == "138****1234"  # masked on screen
    assert case.reporter_name == "林**"
    # the category was given and the catalog has a line for it: out at once
    assert taken.dispatched
    assert case.state is CaseState.dispatched
    assert case.lead_unit == "gl.urban"
    assert case.handle_due is not None
    # 10 working days from Monday 23 November: Monday 7 December, same hour
    assert case.handle_due == MONDAY + timedelta(days=14)

    detail = _act(session, "gl.handler", case.number, Action.sign)
    assert detail.state is CaseState.signed
    assert Action.reply in detail.allowed
    _act(session, "gl.handler", case.number, Action.note, note="已安排人员现场查看")
    _act(session, "gl.handler", case.number, Action.extend, days=3, note="需更换井座")
    with pytest.raises(Conflict, match="waiting"):
        _act(session, "gl.handler", case.number, Action.extend, days=1, note="again")
    detail = _act(session, "super", case.number, Action.approve_extension)
    assert detail.handle_due == MONDAY + timedelta(days=17)
    assert detail.extension_count == 1
    detail = _act(session, "gl.handler", case.number, Action.reply, reply="井盖已补装。")
    assert detail.state is CaseState.replied
    detail = _act(session, "operator", case.number, Action.follow_up,
                  satisfaction=Satisfaction.satisfied)  # fmt: skip
    detail = _act(session, "operator", case.number, Action.close)
    assert detail.state is CaseState.closed
    assert detail.closed_how == "handled"
    assert [s.action for s in detail.steps] == [
        "accept", "dispatch", "sign", "note", "extend", "approve_extension", "reply",
        "follow_up", "close",
    ]  # fmt: skip
    row = session.scalar(select(Case).where(Case.number == case.number))
    assert row is not None
    assert row.signed_on_time
    assert row.replied_on_time
    entries, total = ledger.find_entries(session, LedgerFilter(object_id=case.number, limit=50))
    assert total == 9
    assert {e.action for e in entries} >= {"hub.case.dispatch", "hub.case.close"}
    published = session.scalar(select(func.count()).select_from(OutboxEvent)
                               .where(OutboxEvent.topic == "hub.case.changed"))  # fmt: skip
    assert published == 9


def test_a_step_not_allowed_is_refused_with_the_reason(session: Session) -> None:
    city(session)
    number = service.intake(session, mover(session, "operator"), ROAD, now=MONDAY).case.number
    # reply before signing: the state does not allow it (409)
    with pytest.raises(Conflict, match="签收") as refused:
        _act(session, "gl.handler", number, Action.reply, reply="x")
    assert refused.value.status_code == 409
    # another district's unit does not even see it
    with pytest.raises(NotFound):
        _act(session, "tj.handler", number, Action.sign)
    # an operator may not sign for a unit
    with pytest.raises(Forbidden, match=r"hub:cases\.handle"):
        _act(session, "operator", number, Action.sign)
    # returning needs a reason; nothing changes without one
    with pytest.raises(InvalidInput) as missing:
        _act(session, "gl.handler", number, Action.return_)
    assert missing.value.field == "note"
    detail = _act(session, "gl.handler", number, Action.return_, note="属台江区管辖")
    assert detail.state is CaseState.returned
    assert detail.lead_unit == ""
    # the centre sends it on to the right unit (改派 after 退单 is a fresh dispatch)
    detail = _act(
        session,
        "operator",
        number,
        Action.dispatch,
        lead_unit="tj.urban",
        support_units=["gl.urban"],
    )
    # a support unit sees the case but only the lead unit signs for it (403)
    with pytest.raises(Forbidden, match=r"lead unit tj\.urban"):
        _act(session, "gl.handler", number, Action.sign)
    assert (detail.state, detail.lead_unit, detail.return_count) == (CaseState.dispatched,
                                                                     "tj.urban", 1)  # fmt: skip
    with pytest.raises(InvalidInput, match="already"):
        _act(session, "operator", number, Action.reassign, lead_unit="tj.urban", note="x")
    with pytest.raises(InvalidInput, match="no unit"):
        _act(session, "operator", number, Action.reassign, lead_unit="nobody", note="x")


def test_an_unsatisfied_citizen_reopens_the_case(session: Session) -> None:
    city(session)
    number = service.intake(session, mover(session, "operator"), ROAD, now=MONDAY).case.number
    _act(session, "gl.handler", number, Action.sign)
    _act(session, "gl.handler", number, Action.reply, reply="已处理")
    _act(session, "operator", number, Action.follow_up, satisfaction=Satisfaction.unsatisfied)
    # closing over the citizen's head is a supervisor's decision, with a reason
    with pytest.raises(Forbidden, match="unsatisfied"):
        _act(session, "operator", number, Action.close)
    detail = _act(session, "super", number, Action.reopen, note="井盖仍未补装")
    assert (detail.state, detail.lead_unit, detail.reopen_count) == (CaseState.dispatched,
                                                                     "gl.urban", 1)  # fmt: skip
    assert detail.satisfaction is None
    assert detail.signed_at is None


def test_intake_flags_the_same_matter_nearby_and_merges_it(session: Session) -> None:
    city(session)
    op = mover(session, "operator")
    first = service.intake(session, op, ROAD, now=MONDAY).case
    again = ROAD.model_copy(update={"reporter_phone": "13905910000",
                                    "text": "鼓东路口井盖缺失，晚上很危险，请尽快处理一下"})  # fmt: skip
    second = service.intake(session, op, again, now=MONDAY + timedelta(hours=3))
    assert [d.number for d in second.duplicates] == [first.number]
    assert not second.dispatched  # a likely duplicate waits for the operator
    other = ROAD.model_copy(update={"text": "小区楼下广场舞噪声太大，影响休息"})
    assert service.intake(session, op, other, now=MONDAY).duplicates == []
    merged = _act(session, "operator", second.case.number, Action.merge, target=first.number)
    assert (merged.state, merged.merged_into) == (CaseState.merged, first.number)
    assert second.case.number in service.get(session, principal_of(session, "operator"),
                                             first.number).related  # fmt: skip
    with pytest.raises(Conflict):
        _act(session, "operator", second.case.number, Action.merge, target=first.number)


def test_answered_on_the_spot_and_bad_intake(session: Session) -> None:
    city(session)
    op = mover(session, "operator")
    question = CaseCreate(
        text="请问社保卡丢失怎么补办？", address="鼓楼区", reporter_phone="0591-87654321"
    )
    number = service.intake(session, op, question, now=MONDAY).case.number
    with pytest.raises(InvalidInput, match="answer"):
        _act(session, "operator", number, Action.close)
    closed = _act(session, "operator", number, Action.close, reply="可到社保服务网点或线上补办。")
    assert (closed.state, closed.closed_how) == (CaseState.closed, "answered")

    before = session.scalar(select(func.count()).select_from(Case))
    with pytest.raises(InvalidInput, match="where") as where:
        service.intake(session, op, CaseCreate(text="路灯不亮了好几天"), now=MONDAY)
    assert where.value.field == "address"
    with pytest.raises(InvalidInput, match="category"):
        service.intake(session, op, ROAD.model_copy(update={"category_code": "999999"}))
    with pytest.raises(InvalidInput, match="region"):
        service.intake(session, op, ROAD.model_copy(update={"region_code": "999"}))
    with pytest.raises(ValidationError, match="phone"):
        CaseCreate(text="路灯不亮了好几天", address="鼓楼区", reporter_phone="12345")
    assert session.scalar(select(func.count()).select_from(Case)) == before
    with pytest.raises(Forbidden):
        service.intake(session, mover(session, "gl.handler"), ROAD)


def test_a_sure_suggestion_dispatches_without_an_operator(session: Session, tmp_path: Path) -> None:
    city(session)
    texts = [f"{w}{n}号附近" for n in range(30) for w in ("井盖缺失破损", "路灯不亮故障")]
    labels = ["010202", "010203"] * 30
    learning.save(learning.Classifier.train(texts, labels, "cases", "test"), tmp_path)
    hub = HubSettings(auto_dispatch_confidence=0.6)
    text = CaseCreate(text="井盖缺失破损，在8号附近", address="台江区苍霞街道苍霞社区")
    taken = service.intake(
        session, mover(session, "operator"), text, home=tmp_path, hub=hub, now=NOW
    )
    assert taken.case.suggestion["label"] == "010202"
    assert taken.dispatched
    assert (taken.case.category_code, taken.case.lead_unit) == ("010202", "tj.urban")
    assert taken.case.auto_dispatched
    # below the threshold the operator decides, with the three likeliest in view
    unsure = HubSettings(auto_dispatch_confidence=1.01)
    waiting = service.intake(session, mover(session, "operator"), text, home=tmp_path, hub=unsure)
    assert not waiting.dispatched
    assert waiting.case.category_code == ""
    assert len(waiting.case.suggestion["top"]) == 2


def test_a_district_centre_dispatches_in_its_own_district_only(session: Session) -> None:
    city(session)
    make_user(session, "glop", Role.hotline_operator, unit="gl.gov")
    taken = service.intake(session, mover(session, "operator"),
                           ROAD.model_copy(update={"category_code": ""}), now=MONDAY)  # fmt: skip
    detail = _act(session, "glop", taken.case.number, Action.dispatch, lead_unit="gl.urban")
    assert detail.lead_unit == "gl.urban"
    elsewhere = ROAD.model_copy(update={"category_code": "", "address": "台江区苍霞街道"})
    number = service.intake(session, mover(session, "operator"), elsewhere, now=MONDAY).case.number
    with pytest.raises(Forbidden, match=r"not within the region 350102"):
        _act(session, "glop", number, Action.dispatch, lead_unit="tj.urban")


def test_the_models_learn_again_from_closed_cases(session: Session, tmp_path: Path) -> None:
    city(session)
    op = mover(session, "operator")
    assert service.retrain(session, tmp_path, "cases") is None  # nothing closed yet
    for n in range(30):
        for text, code in (
            (f"{n}号井盖缺失破损很危险", "010202"),
            (f"{n}号路灯不亮故障", "010203"),
        ):
            data = CaseCreate(text=text, address="台江区苍霞街道苍霞社区")
            number = service.intake(session, op, data, now=MONDAY).case.number
            if service.get_for_system(session, number).state is CaseState.merged:
                continue
            unit, handler = (
                ("tj.urban", "tj.handler") if code == "010202" else ("gl.urban", "gl.handler")
            )
            for who, action, fields in (
                ("operator", Action.dispatch, {"lead_unit": unit, "category_code": code}),
                (handler, Action.sign, {}), (handler, Action.reply, {"reply": "好"}),
                ("operator", Action.follow_up, {"satisfaction": Satisfaction.satisfied}),
                ("operator", Action.close, {}),
            ):  # fmt: skip
                _act(session, who, number, action, **fields)
    info = service.retrain(session, tmp_path, "cases")
    assert info is not None
    assert info["labels"] == ["010202", "010203"]
    assert (tmp_path / "models" / "cases-units.pickle").is_file()
    guess = dispatch.suggest(tmp_path, "cases", "井盖缺失破损")
    assert guess is not None
    assert guess.label == "010202"
    unit = dispatch.suggest(tmp_path, "cases-units", "路灯不亮故障")
    assert unit is not None
    assert unit.label == "gl.urban"


def test_a_case_is_placed_by_its_coordinates_down_to_the_grid(session: Session) -> None:
    """A grid inspector's report with a GPS point and no address lands in the grid that holds
    the point and goes to that district's unit. A region code given places first and the point
    only takes it deeper within it; the point stands over an address."""
    city(session)
    report = boundaries.import_boundaries(session, SYSTEM, BOUNDARIES_FILE.read_bytes())
    assert report.applied
    op = mover(session, "operator")
    point = {"lon": 119.298, "lat": 26.089}  # in 虎节社区第二网格, 鼓东街道, 鼓楼区
    inspected = service.intake(
        session, op, CaseCreate(text="现场井盖缺失，很危险", category_code="010202",
                                source=Source.grid, **point),
        now=MONDAY,
    ).case  # fmt: skip
    assert (inspected.district_code, inspected.street_code, inspected.community_code,
            inspected.grid_code) == ("350102", "350102001", "350102001001", "350102001001G02")  # fmt: skip
    assert inspected.lead_unit == "gl.urban"
    # the community given, the point within it: down to the grid
    deeper = service.intake(session, op, ROAD.model_copy(update={"address": "", "region_code":
                            "350102001001", **point}), now=MONDAY).case  # fmt: skip
    assert deeper.grid_code == "350102001001G02"
    # an address in 台江区 with a point in 鼓楼区: the measured point stands
    told = service.intake(session, op, ROAD.model_copy(update={"address": "台江区苍霞街道",
                          "region_code": "", **point}), now=MONDAY).case  # fmt: skip
    assert told.grid_code == "350102001001G02"
    # a point no outline holds, and no address: the case is still taken in, unplaced
    nowhere = service.intake(session, op, CaseCreate(text="路灯不亮了", lon=110.0, lat=20.0),
                             now=MONDAY).case  # fmt: skip
    assert nowhere.region_code == ""
