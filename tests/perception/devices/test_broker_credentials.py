"""Devices' credentials and topic rights for the MQTT broker, made from the device register:
the hash as mosquitto_passwd writes it, the files, their writing when a device changes, and a
real Mosquitto that lets each device publish on its own topics only."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.db.engine import Database
from citybase.core.settings import PerceptionSettings, Settings
from citybase.perception.devices import service as devices
from citybase.perception.devices import tasks as device_tasks
from citybase.perception.devices.schemas import DeviceCreated, DeviceIn
from citybase.perception.telemetry.models import DeadLetter, Reading
from citybase.perception.telemetry.mqtt import Ingestor
from tests.perception.devices.test_telemetry import SYSTEM, city
from tests.perception.telemetry.factories import free_port, private_broker


def test_the_hash_is_mosquitto_passwd_s(tmp_path: Path) -> None:
    line = devices.broker_hash("s3cret", salt=b"0123456789ab")
    assert line.startswith("$7$101$MDEyMzQ1Njc4OWFi$")
    assert devices.check_broker_hash("s3cret", line)
    assert not devices.check_broker_hash("s3cret!", line)
    assert devices.broker_hash("s3cret") != devices.broker_hash("s3cret")  # a salt of its own
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.skip("no mosquitto_passwd to compare with")
    subprocess.run([tool, "-c", "-b", str(tmp_path / "pw"), "wl-1", "s3cret"], check=True)
    written = (tmp_path / "pw").read_text().strip().split(":", 1)[1]
    assert devices.check_broker_hash("s3cret", written)  # the same scheme, read back
    assert not devices.check_broker_hash("other", written)


def _register(session: Session, device_id: str, unit: str = "fz.water") -> str:
    created = devices.put_device(session, None, SYSTEM, DeviceIn(
        device_id=device_id, type_code="water_gauge", owner_unit=unit))  # fmt: skip
    assert isinstance(created, DeviceCreated)
    return created.secret


def test_the_files_follow_the_register(session: Session) -> None:
    city(session)
    secret = _register(session, "wl-10")
    devices.put_device(session, None, SYSTEM, DeviceIn(device_id="wl-11", type_code="water_gauge",
                                                       active=False))  # fmt: skip
    files = devices.broker_files(session, ["citybase/{device_id}/attrs",
                                           "citybase/ul/{device_id}/attrs"], "ingest", "pw")  # fmt: skip
    users = dict(line.split(":", 1) for line in files.passwords.splitlines())
    assert devices.check_broker_hash(secret, users["wl-10"])
    assert devices.check_broker_hash("pw", users["ingest"])
    assert "wl-11" not in users
    assert files.left_out["wl-11"] == "retired"
    assert "user wl-10\ntopic write citybase/wl-10/attrs\ntopic write citybase/ul/wl-10/attrs\n" \
        in files.acl  # fmt: skip
    assert "user ingest\ntopic read citybase/+/attrs\n" in files.acl
    assert files.devices == len(users) - 1
    # a device with a colon in its id cannot be a password file's user: left out, named
    _register(session, "urn:wl:12")
    again = devices.broker_files(session, ["citybase/{device_id}/attrs"])
    assert "urn:wl:12" in again.left_out
    assert "urn:wl:12" not in again.passwords
    # a new credential replaces the old one in the broker's copy too
    renewed = devices.renew_secret(session, None, SYSTEM, "wl-10").secret
    users = dict(line.split(":", 1) for line in devices.broker_files(
        session, ["citybase/{device_id}/attrs"]).passwords.splitlines())  # fmt: skip
    assert devices.check_broker_hash(renewed, users["wl-10"])
    assert not devices.check_broker_hash(secret, users["wl-10"])


def test_the_files_are_written_again_when_a_device_changes(
    fresh_db: Database, tmp_path: Path
) -> None:
    folder = tmp_path / "acl"
    settings = Settings(home=tmp_path, perception=PerceptionSettings(
        mqtt_url="mqtt://ingest:pw@127.0.0.1:1883", mqtt_acl_dir=str(folder)))  # fmt: skip
    with fresh_db.session_scope() as session:
        city(session)
    assert device_tasks.BROKER_FILES  # the consumer and the job are registered by the import
    bus.dispatch_in_process(fresh_db)
    bus.run_due_jobs(fresh_db, settings, "test")
    assert "user wl-1\n" in (folder / "acl").read_text()
    with fresh_db.session_scope() as session:
        devices.put_device(session, None, SYSTEM, DeviceIn(device_id="wl-1",
                                                           type_code="water_gauge", active=False))  # fmt: skip
    assert "user wl-1\n" in (folder / "acl").read_text()  # nothing before the event is handled
    bus.dispatch_in_process(fresh_db)
    bus.run_due_jobs(fresh_db, settings, "test")
    assert "user wl-1\n" not in (folder / "acl").read_text()
    assert "wl-1:" not in (folder / "passwd").read_text()
    assert (folder / "passwd").read_text().startswith("ingest:$7$101$")


def _client(port: int, user: str, password: str) -> tuple[Any, dict[int, int]]:
    """A device's MQTT 5 client, connected; and the reason code of each PUBACK by message id."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    acks: dict[int, int] = {}
    connected = threading.Event()
    refused: list[int] = []

    def on_connect(c: Any, u: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            refused.append(reason.value)
        connected.set()

    client.on_connect = on_connect
    client.on_publish = lambda c, u, mid, reason, props: acks.__setitem__(mid, reason.value)
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert connected.wait(5)
    if refused:
        client.loop_stop()
        raise PermissionError(refused[0])
    return client, acks


def _count(db: Database, model: Any) -> int:
    with db.session_scope(readonly=True) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_device_publishes_on_its_own_topics_only(fresh_db: Database, tmp_path: Path) -> None:
    with fresh_db.session_scope() as session:
        city(session)
        secret_10 = _register(session, "wl-10")
        _register(session, "wl-11")
    folder, port = tmp_path / "broker", free_port()
    settings = Settings(home=tmp_path, perception=PerceptionSettings(
        mqtt_url=f"mqtt://ingest:in%40pw@127.0.0.1:{port}", mqtt_share_group="city",
        mqtt_client_id="ingest-1", batch_ms=20))  # fmt: skip
    with fresh_db.session_scope() as session:
        devices.write_broker_files(session, settings, folder)
    with private_broker(folder, auth=True, port=port) as broker:
        ingestor = Ingestor(fresh_db, settings)
        thread = threading.Thread(target=ingestor.run, daemon=True)
        thread.start()
        device, acks = _client(broker.port, "wl-10", secret_10)
        try:
            assert ingestor.subscribed.wait(10), (folder / "mosquitto.log").read_text()[-2000:]
            own = device.publish("citybase/wl-10/attrs", '{"level": 1.0}', qos=1)
            other = device.publish("citybase/wl-11/attrs", '{"level": 2.0}', qos=1)
            own.wait_for_publish(5)
            other.wait_for_publish(5)
            deadline = time.monotonic() + 10
            while _count(fresh_db, Reading) < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert acks[own.mid] == 0  # success
            assert acks[other.mid] == 0x87  # not authorized: the broker refuses it
            time.sleep(0.5)  # what the broker had let through would have been stored by now
            assert _count(fresh_db, Reading) == 1
            with fresh_db.session_scope(readonly=True) as session:
                assert devices.get_device(session, "wl-11").last_seen_at is None
            # a wrong credential, and a device not registered, do not get in at all
            with pytest.raises(PermissionError):
                _client(broker.port, "wl-10", "dev_wrong")
            with pytest.raises(PermissionError):
                _client(broker.port, "wl-99", secret_10)
            # retired: once the files are written again and the broker told, it is out
            with fresh_db.session_scope() as session:
                devices.put_device(session, None, SYSTEM, DeviceIn(
                    device_id="wl-10", type_code="water_gauge", owner_unit="fz.water",
                    active=False))  # fmt: skip
                devices.write_broker_files(session, settings, folder)
            broker.reload()
            with pytest.raises(PermissionError):
                _client(broker.port, "wl-10", secret_10)
        finally:
            device.loop_stop()
            device.disconnect()
            ingestor.stop()
            thread.join(5)
    assert _count(fresh_db, DeadLetter) == 0
