"""Perception benchmarks: readings per second through the HTTP batch endpoint and through MQTT,
against a plain batched insert of the same rows into the same database.

    python bench/perception_bench.py [--backend sqlite|postgresql] [--readings 200000]
        [--batch 5000] [--mqtt 20000]

A reading here is one value of one attribute. 200 water gauges each report two attributes
(level, battery) every 10 seconds of simulated time.

1. **HTTP batch.** ``POST /api/v1/perception/readings`` to the app served by uvicorn in a
   process of its own on a local port, from an HTTP client over one kept-alive connection (its
   peak resident memory is printed too; JSON parsed
   and validated, the sender's unit checked, each reading checked against its device's type,
   stored, latest values and last-seen times moved, rules judged, the transaction committed
   before the answer), batches of ``--batch`` values. No rules are defined, so judging costs a
   look-up only.
2. **The service alone.** The same batches handed to ``telemetry.ingest`` and the rules, one
   transaction each: what the endpoint adds over it is JSON and HTTP.
3. **MQTT.** ``--mqtt`` readings in JSON messages of two values each (as a device sends), then
   ten times as many in messages of 50 readings (as a gateway sends), published with QoS 1 to the
   broker on 127.0.0.1:1883 (when it answers), stored by the ingestor, acknowledged after
   commit; from the first publish to the last reading stored. With one value pair a message,
   the one Python publisher (paho) is the limit: its own rate is printed beside.
4. **The anomaly detector** (``--anomaly``, on by default). Alone: readings a second through one
   ``Detector`` on one core (a tide-like series with noise and rare spikes, as the batch path
   ``score-series`` runs it), against a plain exponentially weighted mean over the same readings
   in the same loop (the least a per-reading Python judge costs). In ingestion: the service path
   again on fresh times, with an anomaly rule on every series (both attributes of every
   device; its detectors first fed, untimed, past their warm-up), against the same without;
   the difference per reading is what the rule adds. Both are also given in the process's CPU
   time, which other work on a shared machine disturbs less than the wall clock.
5. **Reference.** The same rows (series id, time, value) inserted with one ``executemany`` per
   batch and committed, in the same database, in the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).parent))
from benchdb import Served, open_db
from citybase.core.db.engine import Database
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import ApiKeyCreate, Role, UserCreate
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.settings import PerceptionSettings, Settings
from citybase.demo.seed import DEMO_FILE
from citybase.perception.devices import service as devices
from citybase.perception.devices.schemas import AttributeSpec, DeviceIn, DeviceTypeIn
from citybase.perception.rules import service as rules
from citybase.perception.rules.schemas import RuleIn, RuleKind
from citybase.perception.telemetry import repository, service
from citybase.perception.telemetry.models import Reading
from citybase.perception.telemetry.schemas import ReadingIn

SYSTEM = Actor.system("bench")
DEVICES = 200
START = datetime(2026, 1, 1, tzinfo=UTC)


def setup(db: Database, settings: Settings) -> str:
    with db.session_scope() as s:
        orgs.import_orgs(s, SYSTEM, DEMO_FILE.name, DEMO_FILE.read_bytes())
        devices.put_type(s, SYSTEM, DeviceTypeIn(code="gauge", name="gauge", attributes=[
            AttributeSpec(name="level", min=0, max=15),
            AttributeSpec(name="battery", min=0, max=100)]))  # fmt: skip
        for n in range(DEVICES):
            devices.put_device(s, None, SYSTEM, DeviceIn(device_id=f"g{n:04d}", type_code="gauge",
                                                         owner_unit="fz.water"))  # fmt: skip
        identity.create_user(s, None, UserCreate(
            username="gateway", display_name="gateway", password="bench-password-1",  # noqa: S106 -- a throwaway database
            unit_code="fz.water", roles=[Role.unit_admin]), actor=SYSTEM)  # fmt: skip
        key = identity.create_api_key(s, settings, identity.principal_for(s, "gateway"),
                                      ApiKeyCreate(name="bench"))  # fmt: skip
    return key.secret


def batches(total: int, size: int, offset_s: int) -> list[list[dict[str, Any]]]:
    """``total`` values as JSON-ready readings (two values each), in batches of ``size`` values."""
    readings = []
    for i in range(total // 2):
        at = START + timedelta(seconds=offset_s + (i // DEVICES) * 10)
        readings.append({"device_id": f"g{i % DEVICES:04d}", "ts": at.isoformat(),
                         "values": {"level": 2 + (i % 97) / 100, "battery": 90.0}})  # fmt: skip
    per = size // 2
    return [readings[i : i + per] for i in range(0, len(readings), per)]


def count(db: Database) -> int:
    with db.session_scope(readonly=True) as s:
        return s.scalar(select(func.count()).select_from(Reading)) or 0


def bench_http(server: Served, key: str, work: list[list[dict[str, Any]]]) -> float:
    """Through a real server (uvicorn in a process of its own, on a local port) and an HTTP
    client with a kept-alive connection, as a gateway would send."""
    import httpx2

    bodies = [json.dumps(batch).encode() for batch in work]  # the gateway's work, not ours
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    with httpx2.Client(base_url=server.url, timeout=120) as client:
        t0 = time.perf_counter()
        for body in bodies:
            answer = client.post("/api/v1/perception/readings", content=body, headers=headers)
            assert answer.status_code == 200, answer.text[:300]
            assert not answer.json()["rejected"], answer.text[:300]
        return time.perf_counter() - t0


def bench_service(db: Database, work: list[list[dict[str, Any]]]) -> float:
    parsed = [[ReadingIn.model_validate(r) for r in batch] for batch in work]
    t0 = time.perf_counter()
    for batch in parsed:
        with db.session_scope() as s:
            report, accepted = service.ingest(s, batch, protocol="bench", unit="fz.water")
            rules.judge(s, accepted)
            assert not report.rejected
    return time.perf_counter() - t0


def bench_reference(db: Database, work: list[list[dict[str, Any]]]) -> float:
    with db.session_scope() as s:
        ids = repository.series_ids(s, {(f"g{n:04d}", a) for n in range(DEVICES)
                                        for a in ("level", "battery")})  # fmt: skip
    rows = [[{"series_id": ids[(r["device_id"], a)], "ts": int(datetime.fromisoformat(
        r["ts"]).timestamp() * 1000) + 7, "value": v, "text": None}
        for r in batch for a, v in r["values"].items()] for batch in work]  # fmt: skip
    t0 = time.perf_counter()
    for batch in rows:
        with db.session_scope() as s:
            s.execute(insert(Reading), batch)
    return time.perf_counter() - t0


def bench_mqtt(db: Database, settings: Settings, total: int, per_message: int = 1) -> float | None:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 1883), 1).close()
    except OSError:
        return None
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from citybase.perception.telemetry.mqtt import Ingestor

    run = uuid.uuid4().hex[:8]
    settings = settings.model_copy(update={"perception": PerceptionSettings(
        mqtt_url="mqtt://127.0.0.1:1883", mqtt_client_id=f"bench-{run}", batch_size=1000,
        batch_ms=50, json_topic=f"bench-{run}/{{device_id}}/attrs", ul_topic=f"bench-{run}/ul/{{device_id}}")})  # fmt: skip
    before = count(db)
    ingestor = Ingestor(db, settings)
    thread = threading.Thread(target=ingestor.run, daemon=True)
    thread.start()
    while ingestor.client is None or not ingestor.client.is_connected():
        time.sleep(0.05)
    time.sleep(0.3)
    publisher = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    publisher.max_inflight_messages_set(1000)
    publisher.connect("127.0.0.1", 1883)
    publisher.loop_start()
    t0 = time.perf_counter()
    sent = []
    day = 30 + per_message  # fresh times for each run
    messages = total // 2 // per_message
    for i in range(messages):
        device, step = i % DEVICES, (i // DEVICES) * per_message
        body = json.dumps([{"level": 2.5, "battery": 90.0, "ts": (START + timedelta(
            days=day, seconds=(step + k) * 10)).isoformat()} for k in range(per_message)])  # fmt: skip
        sent.append(publisher.publish(f"bench-{run}/g{device:04d}/attrs", body, qos=1))
    for info in sent:
        info.wait_for_publish(30)
    published = time.perf_counter() - t0
    while count(db) < before + total and time.perf_counter() - t0 < 300:
        time.sleep(0.02)
    seconds = time.perf_counter() - t0
    print(f"mqtt: the one Python publisher sent {messages:,} messages of {per_message * 2} "
          f"readings in {published:.1f} s ({total / published:,.0f} readings/s)")  # fmt: skip
    ingestor.stop()
    thread.join(5)
    publisher.loop_stop()
    publisher.disconnect()
    return seconds


def bench_detector(total: int) -> tuple[float, float, float]:
    """Readings a second through one detector (of wall time, and of the process's CPU time,
    which a machine shared with other work disturbs less), and through a plain exponentially
    weighted mean."""
    import math
    import random

    from citybase.perception.rules import Detector

    rng = random.Random(1)
    values = [10 + 3 * math.sin(2 * math.pi * t / 288) + rng.gauss(0, 0.3)
              + (8 if rng.random() < 1e-4 else 0) for t in range(total)]  # fmt: skip
    detector = Detector()
    t0, c0 = time.perf_counter(), time.process_time()
    for t, v in enumerate(values):
        detector.update(t, v)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    mean = values[0]
    t0 = time.perf_counter()
    for v in values:
        mean += 0.01 * (v - mean)
    reference = time.perf_counter() - t0
    return total / seconds, total / reference, total / cpu


def bench_anomaly_rules(
    db: Database, n: int, size: int, offset_s: int
) -> tuple[float, float, float, float]:
    """Seconds to ingest ``n`` readings without, then with, an anomaly rule on every series
    (its detectors first taken past their warm-up, untimed, so that they score), of wall time
    and of the process's CPU time."""
    c0 = time.process_time()
    without = bench_service(db, batches(n, size, offset_s))
    cpu_without = time.process_time() - c0
    with db.session_scope() as s:
        for attr in ("level", "battery"):
            rules.put_rule(s, SYSTEM, RuleIn(name=f"anomaly {attr}", kind=RuleKind.anomaly,
                                             type_code="gauge", attr=attr))  # fmt: skip
    warm = 2 * DEVICES * 160  # 160 readings a series: past the detector's 150
    bench_service(db, batches(warm, size, offset_s + n))
    c0 = time.process_time()
    with_rules = bench_service(db, batches(n, size, offset_s + n + warm))
    return without, with_rules, cpu_without, time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--mqtt", type=int, default=20_000)
    parser.add_argument("--anomaly", type=int, default=200_000,
                        help="readings through the detector alone (0: no anomaly figures)")  # fmt: skip
    args = parser.parse_args()
    if args.anomaly:
        rate, reference, cpu_rate = bench_detector(args.anomaly)
        print(f"detector alone {rate:10,.0f} readings/s on one core  ratio to a plain EWMA "
              f"{rate / reference:.3f} ({reference:,.0f}/s); {cpu_rate:,.0f} a second of "
              "CPU time")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(args.backend, Path(tmp))
        settings = Settings(home=Path(tmp) / "home", database_url=db.url)
        key = setup(db, settings)
        n = args.readings
        # the kinds of ingestion take turns, a quarter of the readings at a time, on fresh times
        totals = {"http": 0.0, "service": 0.0, "reference": 0.0}
        server = Served(Path(tmp) / "home", db.url)
        for part in range(4):
            base = part * 3 * n
            totals["http"] += bench_http(server, key, batches(n // 4, args.batch, base))
            totals["service"] += bench_service(db, batches(n // 4, args.batch, base + n))
            totals["reference"] += bench_reference(db, batches(n // 4, args.batch, base + 2 * n))
        if args.anomaly:
            without, with_rules, cpu_without, cpu_with = bench_anomaly_rules(
                db, n // 4, args.batch, 12 * n
            )
            print(f"[{args.backend}] service, no rule      {n // 4 / without:10,.0f} readings/s")
            print(f"[{args.backend}] service, anomaly rule {n // 4 / with_rules:10,.0f} readings/s  "
                  f"adds {(with_rules - without) / (n // 4) * 1e6:.1f} µs a reading "
                  f"({(cpu_with - cpu_without) / (n // 4) * 1e6:.1f} µs of CPU time)")  # fmt: skip
        peak = server.peak_mb()
        server.stop()
        rates = {k: n / v for k, v in totals.items()}
        print(f"[{args.backend}] {n:,} readings a kind, batches of {args.batch:,}")
        print(f"[{args.backend}] the server's peak resident memory: {peak:.0f} MB")
        for kind in ("http", "service", "reference"):
            print(f"[{args.backend}] {kind:10} {rates[kind]:10,.0f} readings/s  "
                  f"ratio to reference {rates[kind] / rates['reference']:.2f}")  # fmt: skip
        for per_message in (1, 50):  # a device's message; a gateway's, of 50 readings
            total = args.mqtt if per_message == 1 else args.mqtt * 10
            seconds = bench_mqtt(db, settings, total, per_message) if args.mqtt else None
            if seconds is None:
                print(f"[{args.backend}] mqtt: not measured (no broker on 127.0.0.1:1883)")
                break
            rate = total / seconds
            print(f"[{args.backend}] mqtt x{per_message * 2:<3} {rate:10,.0f} readings/s  ratio to "
                  f"reference {rate / rates['reference']:.2f} ({total:,} readings, QoS 1)")  # fmt: skip
        db.dispose()


if __name__ == "__main__":
    sys.exit(main())
