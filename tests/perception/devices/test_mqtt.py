from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from citybase.core.db.engine import Database
from citybase.core.orgs import service as orgs
from citybase.core.settings import PerceptionSettings, Settings
from citybase.demo.seed import DEMO_FILE
from citybase.perception.devices import service as devices
from citybase.perception.devices.schemas import DeviceIn
from citybase.perception.telemetry.models import Reading
from citybase.perception.telemetry.mqtt import Ingestor, Message
from citybase.perception.telemetry.protocols import JsonPayload, Malformed, UltraLight
from citybase.perception.telemetry.schemas import ReadingIn
from citybase.perception.telemetry.service import MAX_BATCH
from tests.conftest import reachable
from tests.perception.devices.test_telemetry import GAUGE, SYSTEM

BROKER = "mqtt://127.0.0.1:1883"


def test_json_and_ultralight_payloads() -> None:
    json_ = JsonPayload("city/{device_id}/attrs")
    assert json_.topic == "city/+/attrs"
    [r] = json_.parse("city/wl-1/attrs", b'{"level": 2.5, "ts": "2026-11-30T10:00:00+08:00"}')
    assert (r.device_id, r.values, r.ts.hour) == ("wl-1", {"level": 2.5}, 10)  # type: ignore[union-attr]
    assert len(json_.parse("city/wl-1/attrs", b'[{"level": 1}, {"level": 2}]')) == 2
    with pytest.raises(Malformed, match="not JSON"):
        json_.parse("city/wl-1/attrs", b"{level")
    with pytest.raises(Malformed, match="scheme"):
        json_.parse("other/wl-1/attrs", b"{}")
    ul = UltraLight("city/ul/{device_id}/attrs")
    [a, b] = ul.parse(
        "city/ul/wl-2/attrs", b"level|2.5|door_open|true#level|2.6|t|2026-11-30T02:00Z"
    )
    assert a.values == {"level": 2.5, "door_open": True}
    assert b.ts is not None
    with pytest.raises(Malformed, match="pairs"):
        ul.parse("city/ul/wl-2/attrs", b"level|2.5|battery")


class FakeProtocol:
    """A protocol double: every message is one reading of its payload as a level."""

    name = "fake"
    topic = "fake/+"

    def parse(self, topic: str, payload: bytes) -> list[ReadingIn]:
        if payload == b"bad":
            raise Malformed("bad payload")
        return [ReadingIn(device_id=topic.split("/")[1], values={"level": float(payload)})]


def _city(db: Database) -> None:
    with db.session_scope() as session:
        orgs.import_orgs(session, SYSTEM, DEMO_FILE.name, DEMO_FILE.read_bytes())
        devices.put_type(session, SYSTEM, GAUGE)
        devices.put_device(session, None, SYSTEM, DeviceIn(device_id="wl-1",
                                                           type_code="water_gauge"))  # fmt: skip


def _count(db: Database) -> int:
    with db.session_scope(readonly=True) as session:
        return session.scalar(select(func.count()).select_from(Reading)) or 0


def test_a_batch_is_stored_through_any_protocol(fresh_db: Database, tmp_path: Path) -> None:
    _city(fresh_db)
    ingestor = Ingestor(fresh_db, Settings(home=tmp_path), [FakeProtocol()])
    stored = ingestor.store([Message(1, 1, "fake/wl-1", b"2.5"), Message(2, 1, "fake/wl-1", b"bad"),
                             Message(3, 1, "fake/wl-9", b"1.0")])  # fmt: skip
    assert (stored, ingestor.malformed) == (1, 1)
    assert _count(fresh_db) == 1


class GatewayProtocol:
    """A protocol double for a gateway: one message carries many readings of one device."""

    name = "gateway"
    topic = "gw/+"

    def parse(self, topic: str, payload: bytes) -> list[ReadingIn]:
        start = datetime(2026, 11, 1, tzinfo=UTC)
        return [ReadingIn(device_id=topic.split("/")[1], ts=start + timedelta(seconds=n),
                          values={"level": 1.0}) for n in range(int(payload))]  # fmt: skip


def test_a_batch_larger_than_one_ingest_is_stored_whole(fresh_db: Database, tmp_path: Path) -> None:
    _city(fresh_db)
    ingestor = Ingestor(fresh_db, Settings(home=tmp_path), [GatewayProtocol()])
    stored = ingestor.store([Message(1, 1, "gw/wl-1", str(MAX_BATCH + 5).encode()),
                             Message(2, 1, "gw/wl-1", b"3")])  # fmt: skip
    assert stored == MAX_BATCH + 8
    assert _count(fresh_db) == MAX_BATCH + 5  # the second message's three fall on the same times


def _wait(predicate: object, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_readings_from_the_broker_survive_a_crash(fresh_db: Database, tmp_path: Path) -> None:
    if not reachable(BROKER.replace("mqtt://", "tcp://"), 1883):
        pytest.skip("the MQTT broker is not reachable")
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    _city(fresh_db)
    run = uuid.uuid4().hex[:8]
    settings = Settings(home=tmp_path, perception=PerceptionSettings(
        mqtt_url=BROKER, mqtt_client_id=f"citybase-test-{run}", batch_ms=50,
        json_topic=f"test-{run}/{{device_id}}/attrs", ul_topic=f"test-{run}/ul/{{device_id}}"))  # fmt: skip
    publisher = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    publisher.connect("127.0.0.1", 1883)
    publisher.loop_start()

    def publish(n: int) -> None:
        for i in range(n):
            topic = f"test-{run}/wl-1/attrs" if i % 2 else f"test-{run}/ul/wl-1"
            body = (
                f'{{"level": {i / 10}, "ts": "2026-11-30T0{i // 60}:{i % 60:02d}:00Z"}}'
                if i % 2
                else f"level|{i / 10}|t|2026-11-30T0{i // 60}:{i % 60:02d}:00Z"
            )
            publisher.publish(topic, body, qos=1).wait_for_publish(5)

    # the first ingestor takes the messages but dies before storing them: nothing acknowledged
    dying = Ingestor(fresh_db, settings)
    taken = threading.Event()

    def die(batch: list[Message]) -> int:
        taken.set()
        time.sleep(60)
        return 0

    dying.store = die  # type: ignore[method-assign]
    threading.Thread(target=dying.run, daemon=True).start()
    assert dying.subscribed.wait(10)  # published before the broker grants it would not be kept
    publish(10)
    assert taken.wait(10)
    dying.client.loop_stop()
    dying.client.disconnect()
    assert _count(fresh_db) == 0
    # the next one, same session: the broker delivers them again, and each is stored once
    ingestor = Ingestor(fresh_db, settings)
    thread = threading.Thread(target=ingestor.run, daemon=True)
    thread.start()
    try:
        assert ingestor.subscribed.wait(10)
        assert _wait(lambda: _count(fresh_db) == 10), _count(fresh_db)
        publish(4)  # the same four readings again (a device resending): stored once
        assert _wait(lambda: ingestor.stored >= 14), ingestor.stored
        assert _count(fresh_db) == 10
    finally:
        ingestor.stop()
        thread.join(5)
        publisher.loop_stop()
        publisher.disconnect()
