from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.bus.schemas import EventEnvelope
from citybase.core.errors import Conflict
from citybase.core.identity.schemas import Role
from citybase.core.orgs import boundaries
from citybase.core.settings import HubSettings
from citybase.demo.seed import BOUNDARIES_FILE
from citybase.hub.brains import service
from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import Action, ActionIn, CaseCreate, CaseFilter, CaseState
from citybase.perception.rules.schemas import Alarm
from tests.core.identity.factories import make_user, principal_of, sign_in
from tests.hub.cases.factories import ROAD, SYSTEM, city, mover

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
NOISE = ["广场舞音响太吵", "楼下KTV唱到半夜", "装修电钻声音很大", "烧烤摊喧哗到凌晨", "酒吧音乐震耳",
         "夜市喇叭叫卖扰民", "汽车改装排气噪音"]  # fmt: skip


def _noise(session: Session, when: datetime, text: str) -> str:
    data = CaseCreate(text=text, address="鼓楼区", category_code="020102")
    return cases.intake(session, mover(session, "operator"), data, now=when).case.number


def test_a_spike_raises_a_hot_spot_and_a_proactive_task(
    session: Session, client: TestClient
) -> None:
    city(session)
    hub = HubSettings(hotspot_min_cases=5, hotspot_ratio=3)
    for n in range(4):  # the usual: one a week
        _noise(session, NOW - timedelta(days=7 * n + 3), NOISE[n])
    for n, text in enumerate(NOISE[:4]):
        _noise(session, NOW - timedelta(hours=n + 1), text + "！")
    assert service.detect(session, hub, NOW) == []  # four is under the minimum
    _noise(session, NOW - timedelta(hours=5), NOISE[5])
    [spot] = service.detect(session, hub, NOW)
    assert (spot.category_code, spot.district_code, spot.count) == ("0201", "350102", 5)
    assert spot.baseline < 0.2
    assert service.detect(session, hub, NOW + timedelta(hours=1)) == []  # once a day
    task = service.open_task(session, mover(session, "operator"), spot.id, now=NOW)
    assert task.source.value == "proactive"
    assert task.category_code == "0201"
    assert len(task.related) == 5
    assert "未诉先办" in task.title
    with pytest.raises(Conflict):
        service.open_task(session, mover(session, "operator"), spot.id, now=NOW)
    sign_in(client, "super")
    page = client.get("/console/hub/brain")
    assert page.status_code == 200
    assert task.number in page.text
    assert "鼓楼区" in page.text
    assert client.get("/console/hub/board").status_code == 200


def test_a_busy_kinds_ordinary_day_is_not_hot_but_a_quiet_kinds_spike_is() -> None:
    hub = HubSettings(hotspot_min_cases=5, hotspot_ratio=3, hotspot_p_value=0.001)
    # P(X >= 5) at 0.5 a window, P(X >= 6) at 2: the textbook values
    assert service.poisson_tail(5, 0.5) == pytest.approx(0.000172, abs=1e-6)
    assert service.poisson_tail(6, 2.0) == pytest.approx(0.016564, abs=1e-6)
    assert service.poisson_tail(0, 3.0) == pytest.approx(1.0)
    # a kind seen twice a window reaches six now and then: three times the usual, yet ordinary
    assert not service.is_hot(6, 2.0, hub)
    assert service.is_hot(6, 2.0, hub.model_copy(update={"hotspot_p_value": 0.0}))
    assert service.is_hot(10, 2.0, hub)  # P < 0.0001
    # a kind hardly ever seen: five in a window is a spike; four is under the minimum
    assert service.is_hot(5, 0.0, hub)
    assert not service.is_hot(4, 0.0, hub)


def test_sensor_alarms_become_one_case_per_device(session: Session) -> None:
    city(session)
    alarm = Alarm(device_id="wl-0012", kind="water_level", level="critical",
                  message="白马河水位 3.2 m，超警戒 0.4 m", region_code="350102001")  # fmt: skip
    envelope = EventEnvelope(event_id=alarm.event_id, topic=alarm.topic,
                             payload=alarm.model_dump(mode="json"), created_at=NOW)  # fmt: skip
    [consumer] = [c for c in bus.consumers() if c.name == "hub.brains.alarms"]
    consumer.handler(session, envelope)
    [case] = cases.find_all(session, CaseFilter(category_code="010204"))[0]
    assert (case.source.value, case.device_id, case.urgency.value) == (
        "sensor",
        "wl-0012",
        "urgent",
    )
    assert case.state is CaseState.dispatched  # the catalog knows who acts on waterlogging
    again = service.alarm_case(
        session, alarm.model_copy(update={"message": "水位 3.4 m"}), "350100"
    )
    assert again == case.number
    steps = cases.steps_for_system(session, case.number)
    assert steps[-1].action == "alarm"
    other = service.alarm_case(session, alarm.model_copy(update={"device_id": "wl-0013"}), "350100")
    assert other != case.number


def test_district_brains_run_their_loops_and_escalate(session: Session) -> None:
    city(session)
    make_user(session, "glop", Role.hotline_operator, unit="gl.gov")
    make_user(session, "tjop", Role.hotline_operator, unit="tj.gov")
    taken = cases.intake(session, mover(session, "glop"),
                         ROAD.model_copy(update={"category_code": ""}), now=NOW).case  # fmt: skip
    assert taken.brain_code == "350102"
    # the other district's centre neither sees it nor acts on it
    assert cases.find(session, principal_of(session, "tjop"), CaseFilter())[1] == 0
    assert cases.find(session, principal_of(session, "glop"), CaseFilter())[1] == 1
    with pytest.raises(Exception, match="no case"):
        cases.get(session, principal_of(session, "tjop"), taken.number)
    # it needs the city: 上报
    detail = cases.act(session, mover(session, "glop"), taken.number, Action.escalate,
                       ActionIn(note="涉及多个市直部门"), now=NOW)  # fmt: skip
    assert detail.brain_code == "350100"
    with pytest.raises(Exception, match="not within the region"):
        cases.act(session, mover(session, "glop"), taken.number, Action.dispatch,
                  ActionIn(lead_unit="gl.urban"), now=NOW)  # fmt: skip
    with pytest.raises(Conflict, match="already"):
        cases.act(session, mover(session, "operator"), taken.number, Action.escalate,
                  ActionIn(note="x"), now=NOW)  # fmt: skip
    # the city dispatches it to a district unit: that district's brain runs the loop again
    sent = cases.act(session, mover(session, "operator"), taken.number, Action.dispatch,
                     ActionIn(lead_unit="gl.urban"), now=NOW)  # fmt: skip
    assert sent.brain_code == "350102"
    sent = cases.act(session, mover(session, "operator"), taken.number, Action.reassign,
                     ActionIn(lead_unit="fz.urban", note="市级统筹"), now=NOW)  # fmt: skip
    assert sent.brain_code == "350100"


def test_the_dashboard_draws_the_outlined_districts_and_the_cases_with_coordinates(
    session: Session, client: TestClient
) -> None:
    city(session)
    sign_in(client, "super")
    schematic = client.get("/console/hub/brain").text
    assert "示意图" in schematic  # no outlines yet: the schematic tiles
    assert boundaries.import_boundaries(session, SYSTEM, BOUNDARIES_FILE.read_bytes(),
                                        source="示意边界").applied  # fmt: skip
    placed = cases.intake(session, mover(session, "operator"),
                          CaseCreate(text="现场井盖缺失", lon=119.298, lat=26.089), now=NOW).case  # fmt: skip
    page = client.get("/console/hub/brain").text
    assert "示意图" not in page
    assert page.count('<path class="fill-') == 14  # every district, drawn from its outline
    assert "区县边界：" in page
    assert "示意边界" in page
    assert f'<a href="/console/hub/cases/{placed.number}"><circle' in page
