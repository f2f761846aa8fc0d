"""The city's console page of the links and the districts' figures on its dashboard, and who may
see them."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.settings import FederationSettings
from citybase.hub.federation import service
from citybase.hub.federation.schemas import (
    CaseChanged,
    CaseContent,
    CaseEscalated,
    FiguresRolledUp,
)
from tests.core.identity.factories import sign_in
from tests.hub.cases.factories import city
from tests.hub.federation.factories import CITY, DISTRICT


def _linked_city(session: Session) -> None:
    city(session)
    service.configure(session, FederationSettings(role="city", districts=[DISTRICT]), CITY)
    service.receive(session, FiguresRolledUp(
        district_code=DISTRICT, direction="up", sent_by=DISTRICT,
        since=datetime(2026, 11, 1, tzinfo=UTC), open_cases=17, overdue=3,
        figures={"key": "", "cases": 41, "on_time_closing": 0.875, "satisfaction_rate": None},
    ))  # fmt: skip
    session.flush()


def test_the_centre_sees_each_link_and_the_districts_figures(
    session: Session, client: TestClient
) -> None:
    _linked_city(session)
    sign_in(client, "super")
    page = client.get("/console/hub/federation")
    assert page.status_code == 200
    assert "区县联通" in page.text
    assert DISTRICT in page.text
    assert "中断" in page.text  # no bridge has reached the stream yet
    board = client.get("/console/hub/brain")
    assert "独立部署的区县大脑" in board.text
    assert "87.5%" in board.text
    [peer] = client.get("/api/v1/hub/federation/peers").json()
    assert peer["code"] == DISTRICT
    assert peer["figures"]["open_cases"] == 17
    assert peer["figures"]["overdue"] == 3
    assert peer["lag_in_seconds"] is not None
    assert client.get("/api/v1/hub/federation/messages").json()[0]["kind"] == "figures.rolled_up"
    assert client.get("/api/v1/hub/federation/links").json() == []


def test_a_unit_and_nobody_see_no_link(session: Session, client: TestClient) -> None:
    _linked_city(session)
    for path in ("/api/v1/hub/federation/peers", "/api/v1/hub/federation/links",
                 "/api/v1/hub/federation/messages", "/api/v1/hub/federation/disagreements"):  # fmt: skip
        assert client.get(path).status_code == 401
    anonymous = client.get("/console/hub/federation", follow_redirects=False)
    assert anonymous.status_code in (401, 303)
    assert DISTRICT not in anonymous.text
    sign_in(client, "gl.handler")  # a district bureau's case handler
    assert client.get("/api/v1/hub/federation/peers").status_code == 403
    assert client.get("/api/v1/hub/federation/disagreements").status_code == 403
    assert client.get("/console/hub/federation").status_code == 403


def test_a_deployment_without_links_says_so(session: Session, client: TestClient) -> None:
    city(session)
    session.flush()
    sign_in(client, "super")
    page = client.get("/console/hub/federation")
    assert "未启用联通" in page.text
    assert "独立部署的区县大脑" not in client.get("/console/hub/brain").text


def test_the_centre_sees_the_cases_whose_two_sides_disagree(
    session: Session, client: TestClient
) -> None:
    _linked_city(session)
    content = CaseContent(
        source="hotline", channel="phone", reporter_name="林**", reporter_phone="138****1234",
        title="井盖缺失", text="鼓东路口的井盖缺失了", address="福州市鼓楼区鼓东路12号",
        region_code=DISTRICT, lon=None, lat=None, category_code="010202", urgency="normal",
        state="accepted", accepted_at=datetime(2026, 12, 1, 9, tzinfo=UTC),
    )  # fmt: skip
    common = {"district_code": DISTRICT, "direction": "up", "sent_by": DISTRICT,
              "number": "GL-0001"}  # fmt: skip
    service.receive(session, CaseEscalated(**common, seq=1, case=content, reason="需市级协同"))
    # a reply the district took while the city had not dispatched the case: not taken here
    outcome = service.receive(session, CaseChanged(
        **common, seq=2, action="reply", from_state="handling", to_state="replied",
        actor="gl.handler", note="", details={}, reply="已补装"))  # fmt: skip
    assert outcome.startswith("not taken here")
    session.flush()
    sign_in(client, "super")
    [apart] = client.get("/api/v1/hub/federation/disagreements").json()
    assert (apart["state"], apart["peer_state"], apart["peer_number"]) == (
        "accepted", "replied", "GL-0001")  # fmt: skip
    assert client.get("/api/v1/hub/federation/peers").json()[0]["disagreeing"] == 1
    page = client.get("/console/hub/federation")
    assert "双方状态不一致" in page.text
    assert apart["case_number"] in page.text
    assert "受理" in page.text
    assert "答复" in page.text
    client.cookies.set("citybase_lang", "en")
    english = client.get("/console/hub/federation")
    assert "The two sides disagree" in english.text
    assert "state.replied" not in english.text
