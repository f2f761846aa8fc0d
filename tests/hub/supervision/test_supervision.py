from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core.settings import Settings
from citybase.hub.cases import service as cases
from citybase.hub.cases.models import CaseStat
from citybase.hub.cases.schemas import Action, ActionIn, CaseCreate, Satisfaction
from citybase.hub.supervision import service
from tests.core.identity.factories import sign_in
from tests.hub.cases.factories import ROAD, city, mover

MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Fuzhou


def _act(session: Session, who: str, number: str, action: Action, at: datetime, **f: object):  # type: ignore[no-untyped-def]
    return cases.act(session, mover(session, who), number, action, ActionIn.model_validate(f),
                     now=at)  # fmt: skip


def test_stages_turn_yellow_then_red_and_red_goes_up(session: Session, settings: Settings) -> None:
    city(session)
    number = cases.intake(session, mover(session, "operator"), ROAD, now=MONDAY).case.number
    # 24 working hours to sign: three quarters gone leaves it white, a little more turns yellow
    assert service.sweep(session, settings, MONDAY + timedelta(hours=17)) == []
    [yellow] = service.sweep(session, settings, MONDAY + timedelta(hours=19))
    assert (yellow.level, yellow.stage, yellow.escalate_to) == ("yellow", "sign", [])
    assert service.sweep(session, settings, MONDAY + timedelta(hours=20)) == []  # once only
    [red] = service.sweep(session, settings, MONDAY + timedelta(hours=25))
    assert (red.level, red.escalate_to) == ("red", ["fz.urban"])  # 鼓楼区城管局 → 市城管委
    board = service.flagged(session, _principal(session, "super"), "red")
    assert [c.number for c in board] == [number]
    # signing late ends the sign stage's warning and counts against on-time signing
    detail = _act(session, "gl.handler", number, Action.sign, MONDAY + timedelta(hours=26))
    assert detail.warning == ""
    assert [s.action for s in detail.steps].count("warn") == 2
    # the 10 working days to reply run from dispatch to Monday 7 Dec: 96 working hours left on
    # Tuesday 1 Dec is white; 24 left on Friday 4 Dec is under a quarter of 240
    assert service.sweep(session, settings, MONDAY + timedelta(days=8)) == []
    [handle] = service.sweep(session, settings, MONDAY + timedelta(days=11))
    assert (handle.level, handle.stage) == ("yellow", "handle")


def _principal(session: Session, name: str):  # type: ignore[no-untyped-def]
    from tests.core.identity.factories import principal_of

    return principal_of(session, name)


def test_the_centres_figures(session: Session, client: TestClient) -> None:
    city(session)
    op = mover(session, "operator")
    later = MONDAY + timedelta(hours=1)
    texts = ["井盖缺失很危险", "路灯坏了一周", "人行道地砖松动", "雨后路面积水"]
    numbers = [cases.intake(session, op, ROAD.model_copy(update={"text": t}),
                            now=MONDAY).case.number for t in texts]  # fmt: skip
    a, b, c, d = numbers
    for n in (a, b, c):
        _act(session, "gl.handler", n, Action.sign, later)
    _act(session, "gl.handler", d, Action.return_, later, note="不属本单位")
    _act(session, "gl.handler", a, Action.reply, later, reply="已处理")
    _act(session, "operator", a, Action.follow_up, later, satisfaction=Satisfaction.satisfied)
    _act(session, "operator", a, Action.close, later)
    _act(session, "gl.handler", b, Action.reply, MONDAY + timedelta(days=30), reply="已处理")
    _act(session, "operator", b, Action.follow_up, later, satisfaction=Satisfaction.unsatisfied)
    _act(session, "super", b, Action.reopen, later, note="仍未处理")
    cases.intake(session, op, CaseCreate(text="社保卡怎么补办？", address="台江区"), now=MONDAY)

    for by in (None, "unit", "district", "category"):  # the kept counts match the cases
        kept = service.figures(session, by, None, None)
        assert kept == cases.figures_from_cases(session, by), by
    before = sorted((r.dim, r.day, r.key, r.cases, r.closed, r.overdue)
                    for r in session.scalars(select(CaseStat)) if r.cases)  # fmt: skip
    cases.rebuild_stats(session)
    after = sorted((r.dim, r.day, r.key, r.cases, r.closed, r.overdue)
                   for r in session.scalars(select(CaseStat)) if r.cases)  # fmt: skip
    assert before == after
    [everything] = service.figures(session, None, None, None)
    assert everything.cases == 5
    assert everything.on_time_signing == 1.0  # three signed, all in time
    assert everything.on_time_closing == 0.5  # a on time, b a month late
    assert everything.return_rate == 0.25  # d of the four dispatched
    assert everything.reopen_rate == 0.5  # b of a and b
    assert everything.satisfaction_rate == 0.5  # a satisfied; b not, then reopened
    assert everything.first_time_rate == 1.0
    assert everything.dispatch_accuracy == 0.75
    by_district = {f.key: f.cases for f in service.figures(session, "district", None, None)}
    assert by_district == {"350102": 4, "350103": 1}
    [urban] = service.figures(session, "unit", None, None)  # no unit for a case not dispatched
    assert urban.key == "gl.urban"
    assert (urban.cases, urban.return_rate) == (4, 0.25)  # d was returned by gl.urban
    assert service.figures(session, None, MONDAY + timedelta(days=1), None)[0].cases == 0

    sign_in(client, "super")
    got = client.get("/api/v1/hub/supervision/figures", params={"by": "category"}).json()
    assert {f["key"]: f["cases"] for f in got} == {"01": 4, "": 1}
    assert client.get("/api/v1/hub/supervision/figures", params={"by": "x"}).status_code == 422
    client.cookies.clear()
    sign_in(client, "gl.handler")
    assert client.get("/api/v1/hub/supervision/figures").status_code == 403


def test_a_return_or_reassignment_counts_for_the_unit_it_happened_to(session: Session) -> None:
    city(session)
    op = mover(session, "operator")
    later = MONDAY + timedelta(hours=1)
    returned = cases.intake(session, op, ROAD, now=MONDAY).case.number  # to gl.urban
    moved = cases.intake(session, op, ROAD.model_copy(update={"text": "路灯坏了一周"}),
                         now=MONDAY).case.number  # fmt: skip
    _act(session, "gl.handler", returned, Action.sign, later)
    _act(session, "gl.handler", returned, Action.return_, later, note="属台江区")
    _act(session, "operator", returned, Action.dispatch, later, lead_unit="tj.urban")
    _act(session, "tj.handler", returned, Action.sign, later)
    _act(session, "tj.handler", returned, Action.reply, later, reply="已处理")
    _act(session, "operator", returned, Action.follow_up, later,
         satisfaction=Satisfaction.satisfied)  # fmt: skip
    _act(session, "operator", returned, Action.close, later)
    _act(session, "super", moved, Action.reassign, later, lead_unit="tj.urban", note="属台江区")

    units = {f.key: f for f in service.figures(session, "unit", None, None)}
    gulou, taijiang = units["gl.urban"], units["tj.urban"]
    assert (gulou.cases, gulou.return_rate, gulou.dispatch_accuracy) == (2, 0.5, 0.0)
    assert (gulou.on_time_signing, gulou.first_time_rate) == (1.0, None)
    assert (taijiang.cases, taijiang.return_rate, taijiang.dispatch_accuracy) == (2, 0.0, 1.0)
    assert (taijiang.first_time_rate, taijiang.satisfaction_rate) == (1.0, 1.0)
    [everything] = service.figures(session, None, None, None)  # the centre's own: as before
    assert (everything.cases, everything.return_rate, everything.dispatch_accuracy) == (2, 0.5, 0.0)
    assert everything.first_time_rate == 0.0
    assert service.figures(session, "unit", None, None) == cases.figures_from_cases(session, "unit")
    kept = sorted((r.dim, r.day, r.key, r.cases, r.returned, r.never_reassigned)
                  for r in session.scalars(select(CaseStat)) if r.cases)  # fmt: skip
    cases.rebuild_stats(session)
    rebuilt = sorted((r.dim, r.day, r.key, r.cases, r.returned, r.never_reassigned)
                     for r in session.scalars(select(CaseStat)) if r.cases)  # fmt: skip
    assert kept == rebuilt
