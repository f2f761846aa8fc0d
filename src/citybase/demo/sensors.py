"""The demo city's sensors and their last day, simulated here: inland-river water levels and rain
gauges (the flood-control joint dispatch, 联排联调), air quality, traffic speed on main roads,
manhole covers and smoke detectors — with a rainstorm over the last three hours in which the rain
rises, two rivers pass their warning level and the rules raise alarms that the city brain turns
into cases. Places and figures are written for the demo, not measured."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from citybase.core.ledger.schemas import Actor
from citybase.perception.devices import service as devices
from citybase.perception.devices.schemas import AttributeSpec, DeviceIn, DeviceTypeIn
from citybase.perception.rules import service as rules
from citybase.perception.rules.schemas import RuleIn, RuleKind
from citybase.perception.telemetry import service as telemetry
from citybase.perception.telemetry.schemas import ReadingIn

DEMO = Actor.system("demo")
A = AttributeSpec

TYPES = [
    DeviceTypeIn(code="water_gauge", name="内河水位计", attributes=[
        A(name="level", label="水位", unit="m", min=0, max=15),
        A(name="battery", label="电量", unit="%", min=0, max=100)]),
    DeviceTypeIn(code="rain_gauge", name="雨量计", attributes=[
        A(name="rain", label="小时雨强", unit="mm/h", min=0, max=300)]),
    DeviceTypeIn(code="air_station", name="空气质量微站", attributes=[
        A(name="pm25", label="PM2.5", unit="μg/m³", min=0, max=1000),
        A(name="pm10", label="PM10", unit="μg/m³", min=0, max=2000)]),
    DeviceTypeIn(code="traffic_detector", name="道路车速检测器", attributes=[
        A(name="speed", label="平均车速", unit="km/h", min=0, max=200)]),
    DeviceTypeIn(code="manhole_sensor", name="智能井盖", offline_after_minutes=60, attributes=[
        A(name="tilt", label="倾角", unit="°", min=0, max=90)]),
    DeviceTypeIn(code="smoke_detector", name="独立烟感", offline_after_minutes=60, attributes=[
        A(name="smoke", label="烟雾", type="boolean"),
        A(name="battery", label="电量", unit="%", min=0, max=100)]),
]  # fmt: skip

# device id, name, type, owner, lon, lat, region, address
DEVICES = [
    ("wl-baima-01", "白马河杨桥路水位站", "water_gauge", "fz.water", 119.2860, 26.0790, "350102",
     "鼓楼区白马河杨桥路段"),
    ("wl-baima-02", "白马河工业路水位站", "water_gauge", "fz.water", 119.2850, 26.0650, "350102",
     "鼓楼区白马河工业路段"),
    ("wl-jinan-01", "晋安河五四北水位站", "water_gauge", "fz.water", 119.3190, 26.1060, "350111",
     "晋安区晋安河五四北段"),
    ("wl-guangming-01", "光明港水位站", "water_gauge", "fz.water", 119.3350, 26.0600, "350103",
     "台江区光明港"),
    ("wl-qiongdong-01", "琼东河水位站", "water_gauge", "fz.water", 119.3100, 26.0550, "350103",
     "台江区琼东河"),
    ("rg-gulou-01", "鼓楼区雨量站", "rain_gauge", "fz.water", 119.2960, 26.0820, "350102",
     "鼓楼区东街口"),
    ("rg-jinan-01", "晋安区雨量站", "rain_gauge", "fz.water", 119.3250, 26.0950, "350111",
     "晋安区王庄"),
    ("rg-cangshan-01", "仓山区雨量站", "rain_gauge", "fz.water", 119.3200, 26.0380, "350104",
     "仓山区上渡"),
    ("aq-gulou-01", "鼓楼空气微站", "air_station", "fz.ecology", 119.2990, 26.0860, "350102",
     "鼓楼区五四路"),
    ("aq-taijiang-01", "台江空气微站", "air_station", "fz.ecology", 119.3110, 26.0590, "350103",
     "台江区六一中路"),
    ("tr-wuyi-01", "五一路车速检测", "traffic_detector", "fz.transport", 119.3070, 26.0700,
     "350103", "五一中路"),
    ("tr-817-01", "八一七路车速检测", "traffic_detector", "fz.transport", 119.2970, 26.0730,
     "350102", "八一七北路"),
    ("tr-yangqiao-01", "杨桥路车速检测", "traffic_detector", "fz.transport", 119.2880, 26.0800,
     "350102", "杨桥中路"),
    ("mh-gudong-01", "鼓东路井盖1", "manhole_sensor", "gl.urban", 119.3020, 26.0870, "350102001",
     "鼓楼区鼓东街道鼓东路"),
    ("mh-gudong-02", "鼓东路井盖2", "manhole_sensor", "gl.urban", 119.3030, 26.0880, "350102001",
     "鼓楼区鼓东街道鼓东路"),
    ("mh-cangxia-01", "苍霞井盖1", "manhole_sensor", "tj.urban", 119.3040, 26.0500, "350103006",
     "台江区苍霞街道"),
    ("sd-gudong-01", "钱塘社区烟感1", "smoke_detector", "fz.emergency", 119.3000, 26.0860,
     "350102001002", "鼓楼区鼓东街道钱塘社区"),
    ("sd-gudong-02", "钱塘社区烟感2", "smoke_detector", "fz.emergency", 119.3005, 26.0865,
     "350102001002", "鼓楼区鼓东街道钱塘社区"),
]  # fmt: skip

RULES = [
    RuleIn(name="内河超警戒水位", kind=RuleKind.threshold, type_code="water_gauge", attr="level",
           params={"op": ">", "limit": 3.0, "for_minutes": 10}, level="critical",
           alarm_kind="water_level"),
    RuleIn(name="内河水位陡涨", kind=RuleKind.rate, type_code="water_gauge", attr="level",
           params={"max_change": 0.3, "per_minutes": 15}, alarm_kind="water_level"),
    RuleIn(name="短时强降雨", kind=RuleKind.threshold, type_code="rain_gauge", attr="rain",
           params={"op": ">=", "limit": 50, "for_minutes": 0}, alarm_kind="rainfall"),
    RuleIn(name="井盖倾斜", kind=RuleKind.threshold, type_code="manhole_sensor", attr="tilt",
           params={"op": ">", "limit": 15, "for_minutes": 0}, alarm_kind="manhole"),
    RuleIn(name="烟感报警", kind=RuleKind.threshold, type_code="smoke_detector", attr="smoke",
           params={"op": ">", "limit": 0, "for_minutes": 0}, level="critical", alarm_kind="smoke"),
    RuleIn(name="烟感离线", kind=RuleKind.silence, type_code="smoke_detector",
           params={"minutes": 90}, alarm_kind="smoke"),
    RuleIn(name="PM2.5 超标", kind=RuleKind.threshold, type_code="air_station", attr="pm25",
           params={"op": ">", "limit": 115, "for_minutes": 60}, alarm_kind="air_quality"),
]  # fmt: skip

STEP = timedelta(minutes=5)
STORM = timedelta(hours=3)


def _values(device: str, kind: str, at: datetime, now: datetime, rng: random.Random) -> dict:  # type: ignore[type-arg]
    hour = (at + timedelta(hours=8)).hour + (at + timedelta(hours=8)).minute / 60
    storm = max(0.0, 1 - (now - at) / STORM)  # 0 before the storm, rising to 1 now
    if kind == "water_gauge":
        tide = 0.25 * math.sin(at.timestamp() / 3600 / 12.42 * 2 * math.pi)  # the rivers are tidal
        rise = {"wl-baima-01": 1.9, "wl-jinan-01": 1.75}.get(device, 0.7) * storm**1.5
        return {
            "level": round(1.8 + tide + rise + rng.gauss(0, 0.008), 3),
            "battery": round(96 - 2 * (1 - (now - at) / timedelta(hours=24)), 1),
        }
    if kind == "rain_gauge":
        return {"rain": round(max(0.0, 68 * storm**1.2 + rng.gauss(0, 2) if storm else 0.0), 1)}
    if kind == "air_station":
        base = 28 + 12 * math.sin((hour - 8) / 24 * 2 * math.pi) - 15 * storm
        return {
            "pm25": round(max(3.0, base + rng.gauss(0, 3)), 1),
            "pm10": round(max(5.0, base * 1.7 + rng.gauss(0, 5)), 1),
        }
    if kind == "traffic_detector":
        rush = 18 * (math.exp(-((hour - 8.2) ** 2) / 1.2) + math.exp(-((hour - 18) ** 2) / 1.5))
        return {"speed": round(max(4.0, 42 - rush - 14 * storm + rng.gauss(0, 2.5)), 1)}
    if kind == "manhole_sensor":
        tilt = 18.5 if device == "mh-cangxia-01" and now - at < timedelta(minutes=50) else \
            abs(rng.gauss(0.8, 0.4))  # fmt: skip
        return {"tilt": round(tilt, 1)}
    if kind == "smoke_detector":
        smoke = device == "sd-gudong-02" and now - at < timedelta(minutes=20)
        return {"smoke": smoke, "battery": 88.0}
    return {}


def seed_sensors(session: Session, now: datetime | None = None, hours: int = 24) -> int:
    """Types, devices and rules, then ``hours`` of readings every 5 minutes up to ``now``, judged
    by the rules as they would have been live. Returns the readings stored."""
    now = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    now -= timedelta(minutes=now.minute % 5)
    for device_type in TYPES:
        devices.put_type(session, DEMO, device_type)
    for device_id, name, kind, owner, lon, lat, region, address in DEVICES:
        devices.put_device(session, None, DEMO, DeviceIn(
            device_id=device_id, name=name, type_code=kind, owner_unit=owner, lon=lon, lat=lat,
            region_code=region, address=address,
            protocol="mqtt" if kind in ("manhole_sensor", "smoke_detector") else "http"))  # fmt: skip
    for rule in RULES:
        rules.put_rule(session, DEMO, rule)
    rng = random.Random(7)
    stored = 0
    at = now - timedelta(hours=hours)
    while at <= now:
        batch = [ReadingIn(device_id=d, ts=at, values=_values(d, kind, at, now, rng))
                 for d, _, kind, *_ in DEVICES]  # fmt: skip
        report, accepted = telemetry.ingest(session, batch, protocol="demo", now=now)
        if report.rejected:
            raise RuntimeError(f"the demo readings do not fit their types: {report.rejected[:2]}")
        rules.judge(session, accepted)
        stored += len(accepted)
        at += STEP
    return stored


def seed_entities(session: Session) -> int:
    """The sensors in the NGSI-LD context store too: one ``Device`` entity each (name, kind,
    place, address, the unit that owns it), for geo-queries and subscriptions. Their readings
    stay in the telemetry store; an entity written later with a measured value feeds it."""
    from citybase.perception.context import batch, jsonld
    from citybase.perception.context import service as context

    items = [{
        "id": f"{context.DEVICE}{device_id}", "type": "Device",
        "name": {"type": "Property", "value": name},
        "category": {"type": "Property", "value": kind},
        "address": {"type": "Property", "value": {"addressRegion": region, "streetAddress": address}},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
        "owner": {"type": "Relationship", "object": f"urn:ngsi-ld:Organization:{owner}"},
    } for device_id, name, kind, owner, lon, lat, region, address in DEVICES]  # fmt: skip
    done, refused, _ = batch.upsert_many(session, items, jsonld.context_of(None))
    if refused:
        raise RuntimeError(f"the demo entities do not load: {refused[:2]}")
    return len(done)
