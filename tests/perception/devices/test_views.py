from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.perception.rules import service as rules
from citybase.perception.rules.schemas import RuleIn, RuleKind
from citybase.perception.telemetry import service as telemetry
from citybase.perception.telemetry.schemas import ReadingIn
from tests.core.identity.factories import make_user, sign_in
from tests.core.web.maps import map_config
from tests.perception.devices.test_telemetry import SYSTEM, city


def test_devices_a_device_alarms_and_rules(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    city(session)
    now = datetime.now(UTC)
    readings = [ReadingIn(device_id="wl-1", ts=now - timedelta(minutes=10 * n),
                          values={"level": 2 + n / 10}) for n in range(12)]  # fmt: skip
    telemetry.ingest(session, readings, protocol="test")
    make_user(session, "water", Role.unit_admin, unit="fz.water")
    token = sign_in(client, "water")
    page = client.get("/console/perception/devices")
    assert page.status_code == 200
    assert "白马河1号水位计" in page.text
    drawn = map_config(page.text, "devices-map")
    assert drawn["outlines"][0]["url"] == "/regions/outlines?level=district"
    placed = [p for layer in drawn["points"] for p in layer["items"]]
    assert any(p[3] == "/console/perception/devices/wl-1" for p in placed)
    assert "区县边界" in page.text
    assert "/static/leaflet/leaflet.js" in page.text
    one = client.get("/console/perception/devices/wl-1")
    assert one.status_code == 200
    assert "<path" in one.text
    assert "GCJ-02" in one.text
    assert client.get("/console/perception/devices/nothing").status_code == 404
    made = client.post("/console/perception/rules", follow_redirects=False, data={
        "name": "高水位", "kind": "threshold", "type_code": "water_gauge", "attr": "level",
        "params": '{"op": ">", "limit": 2.5}', "level": "critical", "csrf_token": token,
        "form_token": form_token()})  # fmt: skip
    assert made.status_code == 303
    assert rules.rules(session)[0].params == {"op": ">", "limit": 2.5}
    bad = client.post("/console/perception/rules", data={
        "name": "x", "kind": "threshold", "type_code": "water_gauge", "attr": "level",
        "params": "{op", "level": "warning", "csrf_token": token, "form_token": form_token()})  # fmt: skip
    assert bad.status_code == 422
    assert "params" in bad.text
    assert client.get("/console/perception/rules").status_code == 200
    assert client.get("/console/perception/alarms").status_code == 200


def test_a_device_page_shows_the_next_hour(client: TestClient, session: Session) -> None:
    city(session)
    now = datetime.now(UTC)
    readings = [ReadingIn(device_id="wl-1", ts=now - timedelta(minutes=5 * n),
                          values={"level": 2 + (n % 12) / 20}) for n in range(24 * 12)]  # fmt: skip
    telemetry.ingest(session, readings, protocol="test")
    ahead = rules.forecast_series(session, "wl-1", "level", now=now)
    assert len(ahead.steps) == 12
    assert all(s.lo95 <= s.value <= s.hi95 for s in ahead.steps)
    make_user(session, "water", Role.unit_admin, unit="fz.water")
    sign_in(client, "water")
    page = client.get("/console/perception/devices/wl-1")
    assert "forecast-band" in page.text
    api = client.get("/api/v1/perception/devices/wl-1/series/level/forecast")
    assert api.status_code == 200
    assert len(api.json()["steps"]) == 12
    assert client.get("/api/v1/perception/devices/wl-2/series/level/forecast").status_code == 404


def test_a_device_page_draws_the_expected_band_and_marks_its_alarms(
    client: TestClient, session: Session
) -> None:
    city(session)
    rules.put_rule(session, SYSTEM, RuleIn(name="高水位", kind=RuleKind.threshold,
                                           type_code="water_gauge", attr="level",
                                           params={"op": ">", "limit": 4.0, "for_minutes": 0}))  # fmt: skip
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    readings = [ReadingIn(device_id="wl-1", ts=now - timedelta(minutes=5 * n),
                          values={"level": 2 + math.sin(2 * math.pi * n / 288)
                                  + (3 if n == 30 else 0)})
                for n in range(3 * 288)]  # fmt: skip
    _, accepted = telemetry.ingest(session, readings, protocol="test")
    assert rules.judge(session, accepted)
    make_user(session, "water", Role.unit_admin, unit="fz.water")
    sign_in(client, "water")
    page = client.get("/console/perception/devices/wl-1")
    assert page.status_code == 200
    assert page.text.count('class="expected-band"') == 1
    assert 'class="alarm-mark"' in page.text
    assert "高水位" in page.text.split('class="alarm-mark"')[1].split("</circle>")[0]
    api = client.get("/api/v1/perception/devices/wl-1/series/level/forecast",
                     params={"expected_hours": 2})  # fmt: skip
    assert api.status_code == 200
    assert len(api.json()["expected"]) == 24
    assert client.get("/api/v1/perception/devices/wl-1/series/level/forecast").json()[
        "expected"] == []  # fmt: skip
    bad = client.get("/api/v1/perception/devices/wl-1/series/level/forecast",
                     params={"expected_hours": 73})  # fmt: skip
    assert bad.status_code == 422
    assert "expected_hours" in bad.text


def test_the_expected_band_is_not_shown_to_strangers(client: TestClient, session: Session) -> None:
    city(session)
    now = datetime.now(UTC)
    readings = [ReadingIn(device_id="wl-1", ts=now - timedelta(minutes=5 * n),
                          values={"level": 2.0 + n % 3}) for n in range(288)]  # fmt: skip
    telemetry.ingest(session, readings, protocol="test")
    assert client.get("/api/v1/perception/devices/wl-1/series/level/forecast",
                      params={"expected_hours": 2}).status_code == 401  # fmt: skip
    page = client.get("/console/perception/devices/wl-1", follow_redirects=False)
    assert page.status_code in (302, 303, 401)
    assert "expected-band" not in page.text
