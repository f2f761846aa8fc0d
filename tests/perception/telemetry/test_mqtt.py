"""One bad message never stops the stream: what cannot be stored is counted, kept as a dead
letter and acknowledged; a message the database refuses does not hold up the others."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from citybase.core.db import migrate
from citybase.core.db.engine import Database
from citybase.core.settings import PerceptionSettings, Settings
from citybase.perception.devices import service as devices
from citybase.perception.devices.schemas import DeviceCreated, DeviceIn
from citybase.perception.telemetry import service
from citybase.perception.telemetry.models import DeadLetter, Reading
from citybase.perception.telemetry.mqtt import Ingestor, Message
from citybase.perception.telemetry.protocols import JsonPayload, Malformed
from citybase.perception.telemetry.schemas import as_epoch_ms
from tests.perception.devices.test_mqtt import _city
from tests.perception.devices.test_telemetry import SYSTEM
from tests.perception.telemetry.factories import free_port, private_broker

T0 = datetime(2026, 11, 1, tzinfo=UTC)

GOOD = b'{"level": 1.0, "ts": "2026-11-30T00:00:00Z"}'


def _count(db: Database, model: object) -> int:
    with db.session_scope(readonly=True) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0  # type: ignore[arg-type]


def test_bad_messages_become_dead_letters_and_the_rest_is_stored(
    fresh_db: Database, tmp_path: Path
) -> None:
    _city(fresh_db)
    ingestor = Ingestor(fresh_db, Settings(home=tmp_path))
    before = dict(service.REJECTED)
    deep = b"[" * 100_000  # the JSON parser gives up with a RecursionError, not a ValueError
    long_id = "x" * 101
    batch = [
        Message(1, 1, "citybase/wl-1/attrs", GOOD),
        Message(2, 1, "citybase/wl-1/attrs", b"{level"),
        Message(3, 1, "citybase/wl-1/attrs", b'{"level": 1.0, "ts": "1969-12-31T23:59:59Z"}'),
        Message(4, 1, f"citybase/{long_id}/attrs", b'{"level": 1.0}'),
        Message(5, 1, "citybase/wl-1/attrs", b'{"device_id": "wl-2", "level": 1.0}'),
        Message(6, 1, "citybase/wl-1/attrs", deep),
        Message(7, 1, "citybase/wl-1/attrs", b'{"level": 99}'),
        Message(8, 1, "citybase/ul/wl-1/attrs", b"level|2.0|t|2026-11-30T00:01:00Z"),
        Message(9, 1, "citybase/wl-1/attrs", b'{"level": 1.0, "ts": "2101-01-01T00:00:00Z"}'),
        Message(10, 1, "citybase/wl-1/attrs", b'{"device_id": "wl-1", "level": 3.0}'),
    ]
    assert ingestor.store(batch) == 3
    assert _count(fresh_db, Reading) == 3
    with fresh_db.session_scope(readonly=True) as session:
        page = service.dead_letters(session, None, 1, 50)
    assert page.total == 7
    assert sorted(d.kind for d in page.items) == sorted([
        "malformed", "time_out_of_range", "device_id_too_long", "topic_mismatch", "parse_error",
        "outside", "time_out_of_range"])  # fmt: skip
    by_kind = {d.kind: d for d in page.items}
    assert by_kind["topic_mismatch"].device_id == "wl-1"
    assert "wl-2" in by_kind["topic_mismatch"].reason
    assert by_kind["device_id_too_long"].device_id is None  # no device has such an id
    assert by_kind["outside"].device_id == "wl-1"
    assert by_kind["outside"].payload == '{"level": 99}'
    parse_error = by_kind["parse_error"]
    assert (len(parse_error.payload), parse_error.payload_size) == (4096, 100_000)  # bounded
    assert "RecursionError" in parse_error.reason
    # counted by reason (the refused readings by ingest, the rest by the ingestor)
    grown = {k: n - before.get(k, 0) for k, n in service.REJECTED.items() if k[0] == "mqtt"}
    assert grown[("mqtt", "time_out_of_range")] == 2
    for kind in ("malformed", "device_id_too_long", "topic_mismatch", "parse_error", "outside"):
        assert grown[("mqtt", kind)] == 1, kind
    # newest first, paged
    with fresh_db.session_scope(readonly=True) as session:
        first, second = (
            service.dead_letters(session, None, 1, 4),
            service.dead_letters(session, None, 2, 4),
        )
    assert [len(first.items), len(second.items)] == [4, 3]
    ids = [d.id for d in first.items + second.items]
    assert ids == sorted(ids, reverse=True)


def test_a_message_the_database_refuses_does_not_hold_up_the_others(
    fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _city(fresh_db)
    ingestor = Ingestor(fresh_db, Settings(home=tmp_path))
    real = service.ingest

    def refusing(session, readings, **kwargs):  # type: ignore[no-untyped-def]
        if any(r.values.get("level") == 7.0 for r in readings):
            raise RuntimeError("the database refuses this one")
        return real(session, readings, **kwargs)

    monkeypatch.setattr(service, "ingest", refusing)
    batch = [
        Message(1, 1, "citybase/wl-1/attrs", b'{"level": 1.0, "ts": "2026-11-30T00:00:00Z"}'),
        Message(2, 1, "citybase/wl-1/attrs", b'{"level": 7.0, "ts": "2026-11-30T00:01:00Z"}'),
        Message(3, 1, "citybase/wl-1/attrs", b"{bad"),
        Message(4, 1, "citybase/wl-1/attrs", b'{"level": 2.0, "ts": "2026-11-30T00:02:00Z"}'),
    ]
    assert ingestor.store(batch) == 2
    assert _count(fresh_db, Reading) == 2
    with fresh_db.session_scope(readonly=True) as session:
        kinds = sorted(d.kind for d in service.dead_letters(session, None).items)
    assert kinds == ["malformed", "store_failed"]
    # the database away: not even a dead letter can be written, so the batch is not taken (the
    # ingestor then acknowledges nothing of it, and the broker delivers it again)
    real_keep = service.keep_dead_letter
    monkeypatch.setattr(service, "keep_dead_letter", _raise)
    with pytest.raises(RuntimeError):
        ingestor.store([Message(5, 1, "citybase/wl-1/attrs", b'{"level": 7.0}')])
    with pytest.raises(RuntimeError):
        ingestor.store([Message(6, 1, "citybase/wl-1/attrs", b"{bad")])
    assert _count(fresh_db, DeadLetter) == 2
    # a failure of the database's own (here a lock not had) is never a message's fault
    monkeypatch.setattr(service, "ingest", _locked)
    monkeypatch.setattr(service, "keep_dead_letter", real_keep)
    with pytest.raises(OperationalError):
        ingestor.store(
            [Message(7, 1, "citybase/wl-1/attrs", GOOD), Message(8, 1, "citybase/wl-1/attrs", GOOD)]
        )
    assert _count(fresh_db, DeadLetter) == 2


def _locked(*args: object, **kwargs: object) -> None:
    raise OperationalError("INSERT", {}, Exception("database is locked"))


def _raise(*args: object, **kwargs: object) -> None:
    raise RuntimeError("the database is away")


def test_the_payload_names_the_topic_s_device_or_none() -> None:
    json_ = JsonPayload("city/{device_id}/attrs")
    [r] = json_.parse("city/wl-1/attrs", b'{"device_id": "wl-1", "level": 2.5}')
    assert r.values == {"level": 2.5}
    with pytest.raises(Malformed) as refused:
        json_.parse("city/wl-1/attrs", b'[{"level": 1}, {"device_id": "wl-2", "level": 2}]')
    assert (refused.value.kind, refused.value.device_id) == ("topic_mismatch", "wl-1")
    with pytest.raises(Malformed) as long_id:
        json_.parse(f"city/{'y' * 101}/attrs", b'{"level": 1}')
    assert long_id.value.kind == "device_id_too_long"
    assert service.reading_problem("wl-1", datetime(1969, 12, 31, tzinfo=UTC)) is not None
    assert service.reading_problem("wl-1", datetime(2100, 12, 31, 23, tzinfo=UTC)) is None
    assert service.reading_problem("wl-1", datetime(2101, 1, 1, tzinfo=UTC)) is not None


# --- against a private Mosquitto started from docs/deploy/mosquitto.conf ---------------------------


def _publisher(port: int, user: str = "", password: str = "") -> tuple[Any, dict[int, int]]:
    """An MQTT 5 publisher and the reason code of each PUBACK it received, by message id."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                         client_id=f"pub-{uuid.uuid4().hex[:6]}")  # fmt: skip
    if user:
        client.username_pw_set(user, password)
    acks: dict[int, int] = {}
    client.on_publish = lambda c, u, mid, reason, props: acks.__setitem__(mid, reason.value)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client, acks


def _reading(n: int) -> bytes:
    at = T0 + timedelta(seconds=n)
    return f'{{"level": {n % 10}, "ts": "{at.isoformat()}"}}'.encode()


def _until(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _stored_times(db: Database) -> set[int]:
    with db.session_scope(readonly=True) as session:
        return set(session.scalars(select(Reading.ts)))


def test_ingestors_share_one_subscription(fresh_db: Database, tmp_path: Path) -> None:
    pytest.importorskip("paho.mqtt")
    _city(fresh_db)
    with private_broker(tmp_path / "broker") as broker:

        def ingestor(name: str) -> tuple[Ingestor, threading.Thread]:
            settings = Settings(home=tmp_path, perception=PerceptionSettings(
                mqtt_url=broker.url, mqtt_client_id=name, mqtt_share_group="city",
                batch_ms=20))  # fmt: skip
            found = Ingestor(fresh_db, settings)
            thread = threading.Thread(target=found.run, daemon=True)
            thread.start()
            assert found.subscribed.wait(10)
            return found, thread

        (a, a_thread), (b, b_thread) = ingestor("ingest-a"), ingestor("ingest-b")
        assert a.topics()[0] == "$share/city/citybase/+/attrs"
        publisher, acks = _publisher(broker.port)
        try:
            sent = [
                publisher.publish("citybase/wl-1/attrs", _reading(n), qos=1) for n in range(200)
            ]
            for info in sent:
                info.wait_for_publish(10)
            assert _until(lambda: len(_stored_times(fresh_db)) == 200, 30)
            # each ingestor counts a batch just after its transaction commits, so the counts
            # may trail the table by a moment
            assert _until(lambda: a.stored + b.stored >= 200, 10)
            # the broker handed each message to one of them (in turn): both took some, none twice
            assert a.stored > 0
            assert b.stored > 0
            assert a.stored + b.stored == 200
            # one of them stops without acknowledging what it holds; the other goes on, and
            # what the broker kept for the one away is stored when it is back
            a.client.loop_stop()
            a.client.disconnect()
            a.stop()
            a_thread.join(5)
            took = b.stored
            sent = [publisher.publish("citybase/wl-1/attrs", _reading(n), qos=1)
                    for n in range(200, 300)]  # fmt: skip
            for info in sent:
                info.wait_for_publish(10)
            assert _until(lambda: b.stored > took, 10)
            a, a_thread = ingestor("ingest-a")
            assert _until(lambda: len(_stored_times(fresh_db)) == 300, 30), \
                len(_stored_times(fresh_db))  # fmt: skip
            assert all(code == 0 for code in acks.values())
        finally:
            publisher.loop_stop()
            publisher.disconnect()
            for found, thread in ((a, a_thread), (b, b_thread)):
                found.stop()
                thread.join(5)
                assert not thread.is_alive()


def _citybase() -> str:
    found = Path(sys.executable).with_name("citybase")
    if not found.exists():
        found = Path(shutil.which("citybase") or "")
    if not found.name:
        pytest.skip("no citybase command installed")
    return str(found)


KILLS = (5.0, 12.0)  # seconds into the publishing from which the ingestor is killed (SIGKILL)


def test_nothing_acknowledged_is_lost_when_the_ingestor_is_killed(tmp_path: Path) -> None:
    """100 single-reading QoS 1 messages a second for 20 s, through the shipped broker config
    with devices' credentials and ACL, to an ingestor run as `citybase perception mqtt` and
    killed twice on the way: every reading the broker acknowledged is stored."""
    pytest.importorskip("paho.mqtt")
    home, folder, port = tmp_path / "home", tmp_path / "broker", free_port()
    home.mkdir()
    db = Database(f"sqlite:///{home / 'citybase.db'}")
    migrate.upgrade(db.engine)
    _city(db)
    with db.session_scope() as session:
        created = devices.put_device(session, None, SYSTEM, DeviceIn(
            device_id="wl-7", type_code="water_gauge"))  # fmt: skip
        assert isinstance(created, DeviceCreated)
    url = f"mqtt://ingest:ingest-pw@127.0.0.1:{port}"
    env = {**os.environ, "CITYBASE_HOME": str(home), "CITYBASE_PERCEPTION__BATCH_MS": "50"}
    env.pop("CITYBASE_DATABASE_URL", None)
    command = _citybase()
    subprocess.run([command, "perception", "mqtt-acl", "--out", str(folder), "--url", url,
                    "--data-dir", str(home)], env=env, check=True, capture_output=True)  # fmt: skip
    assert "user wl-7\ntopic write citybase/wl-7/attrs" in (folder / "acl").read_text()
    logs = tmp_path / "ingestor.log"

    def start() -> subprocess.Popen[bytes]:
        with logs.open("ab") as log:
            return subprocess.Popen([command, "perception", "mqtt", "--url", url, "--client-id",
                                     "ingest-1", "--data-dir", str(home)], env=env, stdout=log,
                                    stderr=subprocess.STDOUT)  # fmt: skip

    def subscriptions() -> int:
        return (folder / "mosquitto.log").read_text().count("Sending SUBACK to ingest-1")

    with private_broker(folder, auth=True, port=port):
        began = time.monotonic()
        ingestor = start()
        publisher = None
        try:
            # the first start makes the session: what is published before it would not be kept
            assert _until(lambda: subscriptions() >= 2, 30), logs.read_text()[-3000:]
            up = time.monotonic() - began
            publisher, acks = _publisher(port, "wl-7", created.secret)
            mids: dict[int, int] = {}
            kills, started = list(KILLS), time.monotonic()
            look = started
            # 20 s at 100 a second; longer (up to 40 s) only if a slow restart held a kill back
            for n in range(4000):
                if n >= 2000 and not kills:
                    break
                wait = started + n / 100 - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                mids[publisher.publish("citybase/wl-7/attrs", _reading(n), qos=1).mid] = n
                # killed once its time has come and the ingestor of the moment is at work (has
                # subscribed: a restart takes seconds), so that it dies holding messages
                now = time.monotonic()
                if kills and now - started >= kills[0] and now >= look:
                    look = now + 0.5  # the broker's log is read twice a second at most
                    if subscriptions() < 2 * (len(KILLS) - len(kills) + 1):
                        continue
                    kills.pop(0)
                    ingestor.send_signal(signal.SIGKILL)
                    ingestor.wait(10)
                    ingestor = start()
            elapsed = time.monotonic() - started
            assert _until(lambda: len(acks) == len(mids), 30)
            acked = {as_epoch_ms(T0 + timedelta(seconds=mids[mid]))
                     for mid, code in acks.items() if code == 0}  # fmt: skip
            ended = time.monotonic()
            _until(lambda: acked <= _stored_times(db), 60)
            stored = _stored_times(db)
            print(f"\nMQTT kill test: {len(mids)} published in {elapsed:.1f} s, "
                  f"{len(acked)} acknowledged by the broker, {len(acked & stored)} of them stored, "
                  f"ingestor killed {len(KILLS) - len(kills)} times; first start {up:.1f} s, all stored "
                  f"{time.monotonic() - ended:.1f} s after the last PUBACK")  # fmt: skip
            assert len(kills) < len(KILLS)  # killed at least once, whatever the machine's speed
            assert len(acked) > 0
            assert acked <= stored, f"{len(acked - stored)} acknowledged readings not stored"
        finally:
            if publisher is not None:
                publisher.loop_stop()
                publisher.disconnect()
            ingestor.send_signal(signal.SIGINT)
            try:
                ingestor.wait(10)
            except subprocess.TimeoutExpired:
                ingestor.kill()
                ingestor.wait(5)
            db.dispose()


def test_an_ingestor_apart_serves_its_counters(fresh_db: Database, tmp_path: Path) -> None:
    import urllib.request

    from citybase.perception.telemetry.mqtt import serve_metrics

    _city(fresh_db)
    Ingestor(fresh_db, Settings(home=tmp_path)).store(
        [Message(1, 1, "citybase/wl-1/attrs", b"{not json")]
    )
    port = free_port()
    serve_metrics(port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        scraped = answer.read().decode()
    assert 'citybase_readings_rejected_total{protocol="mqtt",reason="malformed"}' in scraped


def test_the_ingestor_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """A supervisor's stop (SIGTERM) ends `citybase perception mqtt` as Ctrl-C does: the batch in
    hand stored and acknowledged, the connection closed, exit status 0."""
    pytest.importorskip("paho.mqtt")
    home, folder, port = tmp_path / "home", tmp_path / "broker", free_port()
    home.mkdir()
    db = Database(f"sqlite:///{home / 'citybase.db'}")
    migrate.upgrade(db.engine)
    db.dispose()
    env = {**os.environ, "CITYBASE_HOME": str(home)}
    env.pop("CITYBASE_DATABASE_URL", None)
    logs = tmp_path / "ingestor.log"
    with private_broker(folder, port=port), logs.open("ab") as log:
        ingestor = subprocess.Popen([_citybase(), "perception", "mqtt", "--url",
                                     f"mqtt://127.0.0.1:{port}", "--client-id", "ingest-stop",
                                     "--data-dir", str(home)], env=env, stdout=log,
                                    stderr=subprocess.STDOUT)  # fmt: skip
        try:
            assert _until(lambda: "subscribed" in logs.read_text(), 60), logs.read_text()[-3000:]
            ingestor.send_signal(signal.SIGTERM)
            assert ingestor.wait(30) == 0, logs.read_text()[-3000:]
        finally:
            if ingestor.poll() is None:
                ingestor.kill()
                ingestor.wait(10)
    assert logs.read_text().rstrip().endswith("stopped")
