from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.bus.models import OutboxEvent
from citybase.core.identity.schemas import Role
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.demo.seed import DEMO_FILE
from citybase.perception.devices import service as devices
from citybase.perception.devices.schemas import AttributeSpec, DeviceIn, DeviceTypeIn
from citybase.perception.rules import service as rules
from citybase.perception.rules.schemas import RuleIn, RuleKind
from citybase.perception.telemetry import service as telemetry
from citybase.perception.telemetry.models import Reading
from citybase.perception.telemetry.schemas import Agg, ReadingIn
from tests.core.identity.factories import make_user, sign_in

SYSTEM = Actor.system("test")
T0 = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
GAUGE = DeviceTypeIn(code="water_gauge", name="内河水位计", offline_after_minutes=15, attributes=[
    AttributeSpec(name="level", label="水位", unit="m", min=0, max=10),
    AttributeSpec(name="battery", unit="%", min=0, max=100),
    AttributeSpec(name="door_open", type="boolean"),
])  # fmt: skip


def city(session: Session) -> None:
    orgs.import_orgs(session, SYSTEM, DEMO_FILE.name, DEMO_FILE.read_bytes())
    devices.put_type(session, SYSTEM, GAUGE)
    for n, unit in ((1, "fz.water"), (2, "fz.water"), (3, "gl.urban")):
        devices.put_device(session, None, SYSTEM, DeviceIn(
            device_id=f"wl-{n}", name=f"白马河{n}号水位计", type_code="water_gauge",
            owner_unit=unit, lon=119.29 + n / 100, lat=26.08, region_code="350102"))  # fmt: skip


def _r(device: str, minutes: float, **values: object) -> ReadingIn:
    return ReadingIn(device_id=device, ts=T0 + timedelta(minutes=minutes), values=values)


def test_readings_are_checked_stored_whole_and_read_back(session: Session) -> None:
    city(session)
    batch = [_r("wl-1", m, level=2.0 + m / 100, battery=90) for m in range(0, 60, 5)] + [
        _r("wl-9", 1, level=1.0),  # unknown device
        _r("wl-1", 2, level=12.0, battery=90),  # out of range: the battery is not kept either
        _r("wl-1", 3, level="high"),  # wrong type
        _r("wl-1", 4, depth=1.0),  # not an attribute
        _r("wl-2", 4, door_open=1),  # a boolean is expected
    ]
    report, accepted = telemetry.ingest(
        session, batch, protocol="test", now=T0 + timedelta(hours=1)
    )
    assert report.accepted == 12
    assert [r.index for r in report.rejected] == [12, 13, 14, 15, 16]
    assert "outside the valid range [0.0, 10.0]" in report.rejected[1].reason
    assert sum(len(a.values) for a in accepted) == 24
    stored = session.scalar(select(func.count()).select_from(Reading))
    assert stored == 24
    # delivered again: stored once
    telemetry.ingest(session, batch[:3], protocol="test", now=T0 + timedelta(hours=1))
    assert session.scalar(select(func.count()).select_from(Reading)) == 24
    latest = {v.attr: v for v in telemetry.latest(session, "wl-1")}
    assert latest["level"].value == pytest.approx(2.55)
    assert latest["level"].ts == T0 + timedelta(minutes=55)
    last3 = telemetry.history(session, "wl-1", "level", last=3)
    assert [p.value for p in last3] == pytest.approx([2.45, 2.5, 2.55])
    window = telemetry.history(session, "wl-1", "level", T0 + timedelta(minutes=10),
                               T0 + timedelta(minutes=20))  # fmt: skip
    assert len(window) == 2
    buckets = telemetry.aggregate(session, "wl-1", "level", T0, T0 + timedelta(hours=1),
                                  timedelta(minutes=15), Agg.max)  # fmt: skip
    assert [b.value for b in buckets] == pytest.approx([2.10, 2.25, 2.40, 2.55])
    assert [b.count for b in buckets] == [3, 3, 3, 3]
    counts = telemetry.aggregate(session, "wl-1", "level", T0, T0 + timedelta(hours=1),
                                 timedelta(minutes=30), Agg.count)  # fmt: skip
    assert [b.value for b in counts] == [6, 6]
    # not yours: a unit reports only its own devices
    report, _ = telemetry.ingest(session, [_r("wl-3", 1, level=1.0)], protocol="test",
                                 unit="fz.water", now=T0 + timedelta(hours=1))  # fmt: skip
    assert "not yours" in report.rejected[0].reason


def test_devices_online_gcj02_and_csv(session: Session) -> None:
    city(session)
    wl1 = devices.get_device(session, "wl-1")
    assert not wl1.online
    assert wl1.gcj02 is not None
    assert wl1.gcj02 != (wl1.lon, wl1.lat)
    telemetry.ingest(session, [ReadingIn(device_id="wl-1", values={"level": 1.0})],
                     protocol="test")  # fmt: skip
    assert devices.get_device(session, "wl-1").online
    csv_ok = (
        "设备编号,名称,设备类型,权属单位,经度,纬度\n"
        "wl-10,一号,water_gauge,fz.water,119.3,26.1\nwl-11,二号,water_gauge,fz.water,,\n"
    )
    report = devices.import_csv(session, None, SYSTEM, csv_ok.encode())
    assert (report.created, report.problems) == (2, [])
    assert set(report.secrets) == {"wl-10", "wl-11"}
    bad = (
        "device_id,type,owner,lon,lat\nwl-12,water_gauge,fz.water,119.3,\n"
        "wl-13,nothing,fz.water,,\nwl 14,water_gauge,,,\nwl-10,water_gauge,nobody,,\n"
    )
    report = devices.import_csv(session, None, SYSTEM, bad.encode())
    assert {(p.row, p.field) for p in report.problems} == {
        (2, ""), (3, "type_code"), (4, "device_id"), (5, "owner_unit")}  # fmt: skip
    assert devices.get_device(session, "wl-10").name == "一号"  # nothing changed
    assert devices.import_csv(session, None, SYSTEM, b"serial\n1\n").problems[0].row == 1


def test_a_threshold_held_raises_one_alarm_and_clears(session: Session) -> None:
    city(session)
    rules.put_rule(session, SYSTEM, RuleIn(
        name="超警戒水位", kind=RuleKind.threshold, type_code="water_gauge", attr="level",
        params={"op": ">", "limit": 3.0, "for_minutes": 10}, level="critical",
        alarm_kind="water_level"))  # fmt: skip
    rules.put_rule(session, SYSTEM, RuleIn(
        name="水位陡涨", kind=RuleKind.rate, device_id="wl-2", attr="level",
        params={"max_change": 0.5, "per_minutes": 10}))  # fmt: skip
    now = T0 + timedelta(hours=2)

    def send(*readings: ReadingIn) -> list[str]:
        _, accepted = telemetry.ingest(session, list(readings), protocol="test", now=now)
        return [a.message for a in rules.judge(session, accepted)]

    assert send(_r("wl-1", 0, level=3.2)) == []  # beyond, not yet for 10 minutes
    assert send(_r("wl-1", 5, level=3.3)) == []
    [raised] = send(_r("wl-1", 10, level=3.4))
    assert "level 3.4 > 3" in raised
    assert send(_r("wl-1", 15, level=3.5)) == []  # already open
    assert len(rules.alarms(session, open_only=True)) == 1
    assert send(_r("wl-1", 20, level=2.9)) == []
    assert rules.alarms(session, open_only=True) == []
    events = session.scalar(select(func.count()).select_from(OutboxEvent)
                            .where(OutboxEvent.topic == "perception.alarm"))  # fmt: skip
    assert events == 1
    assert send(_r("wl-2", 0, level=1.0)) == []
    [fast] = send(_r("wl-2", 5, level=1.6))  # +1.2 per 10 min
    assert "changing +1.2" in fast


def test_silent_devices_raise_an_alarm(session: Session) -> None:
    city(session)
    rules.put_rule(session, SYSTEM, RuleIn(name="掉线", kind=RuleKind.silence,
                                           type_code="water_gauge", params={"minutes": 30}))  # fmt: skip
    telemetry.ingest(session, [_r("wl-1", 0, level=1.0)], protocol="test", now=T0)
    raised = rules.sweep_silence(session, T0 + timedelta(minutes=20))
    assert sorted(a.device_id for a in raised) == ["wl-2", "wl-3"]  # never heard from
    assert [a.device_id for a in rules.sweep_silence(session, T0 + timedelta(minutes=45))] == [
        "wl-1"]  # fmt: skip


def test_the_http_batch_endpoint(client: TestClient, session: Session) -> None:
    city(session)
    make_user(session, "water", Role.unit_admin, unit="fz.water")
    token = sign_in(client, "water")
    now = datetime.now(UTC).isoformat()
    answer = client.post("/api/v1/perception/readings", headers={"X-CSRF-Token": token}, json=[
        {"device_id": "wl-1", "ts": now, "values": {"level": 1.5}},
        {"device_id": "wl-3", "ts": now, "values": {"level": 1.5}},
    ])  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1
    assert "not yours" in answer.json()["rejected"][0]["reason"]
    malformed = client.post("/api/v1/perception/readings", headers={"X-CSRF-Token": token,
                            "Content-Type": "application/json"}, content=b"[{")  # fmt: skip
    assert malformed.status_code == 400
    got = client.get("/api/v1/perception/devices/wl-1/series/level", params={"last": 5})
    assert [p["value"] for p in got.json()] == [1.5]
    assert client.get("/api/v1/perception/devices/wl-1").json()["online"]
    created = devices.put_device(session, None, SYSTEM, DeviceIn(
        device_id="wl-20", type_code="water_gauge", owner_unit="fz.water"))  # fmt: skip
    secret = created.secret  # type: ignore[union-attr]
    client.cookies.clear()
    own = client.post("/api/v1/perception/devices/wl-20/readings",
                      headers={"X-Device-Secret": secret},
                      json=[{"device_id": "wl-20", "values": {"level": 2.0}}])  # fmt: skip
    assert own.json()["accepted"] == 1
    wrong = client.post("/api/v1/perception/devices/wl-20/readings",
                        headers={"X-Device-Secret": "dev_x"},
                        json=[{"device_id": "wl-20", "values": {"level": 2.0}}])  # fmt: skip
    assert wrong.status_code == 403


def test_readings_are_counted_on_metrics(client: TestClient, session: Session) -> None:
    city(session)
    telemetry.ingest(session, [_r("wl-1", 0, level=1.0), _r("wl-1", 1, level=99.0)],
                     protocol="http", now=T0 + timedelta(hours=1))  # fmt: skip
    scraped = client.get("/metrics").text
    assert 'citybase_readings_accepted_total{protocol="http"}' in scraped
    assert 'citybase_readings_rejected_total{protocol="http",reason="outside"}' in scraped


def test_ngsi_ld_device_entities_feed_the_telemetry_store(
    client: TestClient, session: Session
) -> None:
    import json

    city(session)
    make_user(session, "water", Role.unit_admin, unit="fz.water")
    h = {"X-CSRF-Token": sign_in(client, "water"), "Content-Type": "application/json"}
    at = (datetime.now(UTC) - timedelta(minutes=1)).replace(microsecond=0)
    stamp = at.isoformat().replace("+00:00", "Z")
    entity = {"id": "urn:ngsi-ld:Device:wl-1", "type": "Device",
              "level": {"type": "Property", "value": 3.5, "observedAt": stamp},
              "battery": {"type": "Property", "value": 80, "observedAt": stamp},
              "name": {"type": "Property", "value": "not measured, not a reading"}}  # fmt: skip
    made = client.post("/ngsi-ld/v1/entityOperations/upsert", content=json.dumps([entity]),
                       headers=h)  # fmt: skip
    assert made.status_code == 201, made.text
    latest = {v.attr: v.value for v in telemetry.latest(session, "wl-1")}
    assert (latest["level"], latest["battery"]) == (3.5, 80)
    # a reading the device's type refuses refuses the change, with the reason
    bad = {**entity, "level": {"type": "Property", "value": 99, "observedAt": stamp}}
    refused = client.post("/ngsi-ld/v1/entityOperations/upsert", content=json.dumps([bad]),
                          headers=h)  # fmt: skip
    assert refused.status_code == 207
    assert "outside the valid range" in refused.json()["errors"][0]["error"]["detail"]
    kept = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Device:wl-1", params={"format": "concise"})
    assert kept.json()["level"]["value"] == 3.5
    # another unit's device: its entity is not this unit's to write, through any operation
    theirs = {**entity, "id": "urn:ngsi-ld:Device:wl-3"}
    forged = client.post("/ngsi-ld/v1/entities", content=json.dumps(theirs), headers=h)
    assert forged.status_code == 403, forged.text
    assert "belongs to gl.urban" in forged.text
    batch = client.post("/ngsi-ld/v1/entityOperations/upsert", content=json.dumps([theirs]),
                        headers=h)  # fmt: skip
    assert batch.status_code == 207
    assert batch.json()["errors"][0]["error"]["status"] == 403
    patched = client.patch("/ngsi-ld/v1/entities/urn:ngsi-ld:Device:wl-1/attrs/level", headers=h,
                           content=json.dumps({"value": 3.6, "observedAt": stamp}))  # fmt: skip
    assert patched.status_code == 204, patched.text  # its own device still
    assert {v.attr: v.value for v in telemetry.latest(session, "wl-3")} == {}
    # an entity that is not a registered device is only an entity
    other = {**entity, "id": "urn:ngsi-ld:Device:nowhere"}
    assert client.post("/ngsi-ld/v1/entities", content=json.dumps(other),
                       headers=h).status_code == 201  # fmt: skip
