"""NGSI-LD benchmarks: batch upserts, notification latency and temporal queries over a large
history, through a real server (uvicorn in a process of its own on a local port; an HTTP client
with a kept-alive connection).

    python bench/ngsi_bench.py [--backend sqlite|postgresql] [--entities 2000] [--rounds 5]
        [--notifications 300] [--instances 10000000]

1. **Batch upserts.** ``--entities`` water-level entities (three attributes: a level with its
   observedAt, a temperature, a location) created once, then updated ``--rounds`` times with
   ``POST /entityOperations/upsert?options=update`` in batches of 1,000 (each entity checked,
   its names expanded by the JSON-LD processor's kept answers, stored, its history kept, the
   notifier told). Entity updates per second, with no subscriptions and again with ten on other
   types (each change is tried on them). Reference: the same entities' attribute objects
   written with one ``executemany`` UPDATE per batch, committed, in the same database.
2. **Notification latency.** One subscription on the level of those entities, notifying an HTTP
   receiver on this machine; one entity's level changed ``--notifications`` times, 20 ms apart;
   from the client sending the PATCH to the receiver holding the notification: p50, p99.
3. **Temporal query.** ``--instances`` attribute instances kept (1,000 series of one attribute,
   one a minute, written straight into the history table); ``GET /temporal/entities/{id}`` for
   one attribute over 24 hours (1,440 instances), 200 times at random series: p50, p95.
   Reference: a 24-hour range of another random series selected by the index alone (SQL, no
   rendering). On PostgreSQL the table is vacuumed after the fill, as autovacuum would (the
   migration has it vacuum this table after every 1 % of new rows).
4. **Memory.** The server's peak resident memory over all of it.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select, text, update

sys.path.insert(0, str(Path(__file__).parent))
from benchdb import Served, open_db
from citybase.core.db.engine import Database
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import ApiKeyCreate, Role, UserCreate
from citybase.core.ledger.schemas import Actor
from citybase.core.settings import Settings
from citybase.perception.context.models import AttributeSeries, ContextEntity

SYSTEM = Actor.system("bench")
START = datetime(2026, 1, 1, tzinfo=UTC)
LEVEL = "https://uri.etsi.org/ngsi-ld/default-context/level"


def setup(db: Database, settings: Settings) -> str:
    with db.session_scope() as s:
        identity.create_user(s, None, UserCreate(
            username="broker", display_name="broker", password="bench-password-1",  # noqa: S106 -- a throwaway database
            roles=[Role.platform_admin]), actor=SYSTEM)  # fmt: skip
        key = identity.create_api_key(s, settings, identity.principal_for(s, "broker"),
                                      ApiKeyCreate(name="bench"))  # fmt: skip
    return key.secret


def entity(n: int, level: float, at: datetime) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:WaterLevelObserved:{n:05d}", "type": "WaterLevelObserved",
            "level": {"type": "Property", "value": level, "unitCode": "MTR",
                      "observedAt": at.isoformat().replace("+00:00", "Z")},
            "temperature": {"type": "Property", "value": 18.5},
            "location": {"type": "GeoProperty", "value": {
                "type": "Point", "coordinates": [119.2 + n % 100 / 1000, 26.0 + n // 100 / 1000]}}}  # fmt: skip


def bench_upserts(client: Any, entities: int, rounds: int, first_round: int = 0) -> float:
    headers = {"Content-Type": "application/json"}
    for start in range(0, entities if not first_round else 0, 1000):  # created first
        body = json.dumps(
            [entity(n, 1.0, START) for n in range(start, min(entities, start + 1000))]
        )
        made = client.post("/ngsi-ld/v1/entityOperations/upsert", content=body, headers=headers)
        assert made.status_code in (201, 204), made.text[:300]
    bodies = [json.dumps([entity(n, 1.0 + r / 10, START + timedelta(minutes=r + 1))
                          for n in range(start, min(entities, start + 1000))]).encode()
              for r in range(first_round, first_round + rounds)
              for start in range(0, entities, 1000)]  # fmt: skip
    t0 = time.perf_counter()
    for body in bodies:
        done = client.post("/ngsi-ld/v1/entityOperations/upsert", params={"options": "update"},
                           content=body, headers=headers)  # fmt: skip
        assert done.status_code == 204, done.text[:300]
    return time.perf_counter() - t0


def bench_upsert_reference(db: Database, entities: int, rounds: int) -> float:
    with db.session_scope(readonly=True) as s:
        rows = {e.id: e.attrs for e in s.scalars(select(ContextEntity))}
    ids = sorted(rows)
    t0 = time.perf_counter()
    for r in range(rounds):
        for start in range(0, entities, 1000):
            batch = [{"b_id": i, "attrs": {**rows[i], LEVEL: {**rows[i][LEVEL], "value": r}}}
                     for i in ids[start : start + 1000]]  # fmt: skip
            with db.session_scope() as s:
                s.connection().execute(update(ContextEntity).where(
                    ContextEntity.id == __import__("sqlalchemy").bindparam("b_id")).values(
                    attrs=__import__("sqlalchemy").bindparam("attrs")), batch)  # fmt: skip
    return time.perf_counter() - t0


class Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[float, float] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                now = time.perf_counter()
                for item in body["data"]:
                    outer.arrivals[item["level"]] = now
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def bench_notifications(client: Any, count: int) -> list[float]:
    receiver = Receiver()
    headers = {"Content-Type": "application/json"}
    sub = {"entities": [{"type": "WaterLevelObserved"}], "watchedAttributes": ["level"],
           "notification": {"endpoint": {"uri": receiver.url}, "format": "keyValues",
                            "attributes": ["level"]}}  # fmt: skip
    made = client.post("/ngsi-ld/v1/subscriptions", content=json.dumps(sub), headers=headers)
    assert made.status_code == 201, made.text
    time.sleep(0.5)
    sent: dict[float, float] = {}
    for i in range(count):
        level = 100 + i / 1000
        body = json.dumps({"level": {"type": "Property", "value": level}})
        sent[level] = time.perf_counter()
        done = client.patch("/ngsi-ld/v1/entities/urn:ngsi-ld:WaterLevelObserved:00000/attrs",
                            content=body, headers=headers)  # fmt: skip
        assert done.status_code == 204, done.text
        time.sleep(0.02)
    deadline = time.perf_counter() + 10
    while len(receiver.arrivals) < count and time.perf_counter() < deadline:
        time.sleep(0.05)
    receiver.server.shutdown()
    client.delete(made.headers["Location"])
    missing = count - len([k for k in sent if k in receiver.arrivals])
    if missing:
        print(f"notifications: {missing} of {count} did not arrive")
    return sorted((receiver.arrivals[k] - t) * 1000 for k, t in sent.items()
                  if k in receiver.arrivals)  # fmt: skip


def fill_history(db: Database, instances: int, series: int = 1000) -> list[str]:
    """``instances`` values of one attribute over ``series`` entities, one a minute, straight
    into the history table (as years of updates would have left it)."""
    ids = [f"urn:ngsi-ld:RiverGauge:{n:05d}" for n in range(series)]
    with db.session_scope() as s:
        s.add_all([AttributeSeries(entity_id=i, attr=LEVEL, entity_type=
                                   "https://uri.etsi.org/ngsi-ld/default-context/RiverGauge")
                   for i in ids])  # fmt: skip
        s.flush()
        sids = list(s.scalars(select(AttributeSeries.id).where(
            AttributeSeries.entity_id.in_(ids)).order_by(AttributeSeries.entity_id)))  # fmt: skip
    per = instances // series
    stamp = "%Y-%m-%d %H:%M:%S.000000" if db.dialect == "sqlite" else None
    sql = text("INSERT INTO perception_attribute_instances (series_id, observed_at, kind, value, "
               "number, extra) VALUES (:s, :t, 'Property', :v, :n, NULL)")  # fmt: skip
    chunk = 200_000
    rows: list[dict[str, Any]] = []
    for minute in range(per):
        at = START + timedelta(minutes=minute)
        t: Any = at.strftime(stamp) if stamp else at
        for sid in sids:
            value = 2 + (minute % 720) / 1000 + sid / 10_000
            rows.append({"s": sid, "t": t, "v": json.dumps(value), "n": value})
        if len(rows) >= chunk:
            with db.session_scope() as s:
                s.execute(sql, rows)
            rows = []
    if rows:
        with db.session_scope() as s:
            s.execute(sql, rows)
    return ids


def bench_temporal(client: Any, db: Database, ids: list[str], per: int,
                   queries: int = 200) -> tuple[list[float], list[float]]:  # fmt: skip
    rng = random.Random(7)
    days = max(1, per // 1440)
    api, index = [], []
    for _ in range(queries):
        entity_id = rng.choice(ids)
        day = rng.randrange(days)
        start = START + timedelta(days=day)
        params = {"attrs": "level", "timerel": "between",
                  "timeAt": start.isoformat().replace("+00:00", "Z"),
                  "endTimeAt": (start + timedelta(days=1)).isoformat().replace("+00:00", "Z")}  # fmt: skip
        t0 = time.perf_counter()
        found = client.get(f"/ngsi-ld/v1/temporal/entities/{entity_id}", params=params)
        api.append((time.perf_counter() - t0) * 1000)
        assert found.status_code == 200, found.text[:300]
        assert len(found.json()["level"]) == min(1440, per), len(found.json()["level"])
        entity_id = rng.choice(ids)  # the reference reads another series and day: not warmed
        start = START + timedelta(days=rng.randrange(days))
        t0 = time.perf_counter()
        with db.session_scope(readonly=True) as s:
            sid = s.scalar(select(AttributeSeries.id).where(AttributeSeries.entity_id == entity_id))
            got = s.execute(text("SELECT observed_at, value FROM perception_attribute_instances "
                                 "WHERE series_id = :s AND observed_at >= :a AND observed_at < :b "
                                 "ORDER BY observed_at"),
                            {"s": sid, "a": start if db.dialect != "sqlite" else
                             start.strftime("%Y-%m-%d %H:%M:%S.000000"),
                             "b": start + timedelta(days=1) if db.dialect != "sqlite" else
                             (start + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S.000000")}).all()  # fmt: skip
        index.append((time.perf_counter() - t0) * 1000)
        assert len(got) == min(1440, per)
    return sorted(api), sorted(index)


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def main() -> None:
    import httpx2

    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--entities", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--notifications", type=int, default=300)
    parser.add_argument("--instances", type=int, default=10_000_000)
    args = parser.parse_args()
    tag = f"[{args.backend}]"
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(args.backend, Path(tmp))
        settings = Settings(home=Path(tmp) / "home", database_url=db.url)
        key = setup(db, settings)
        server = Served(Path(tmp) / "home", db.url)
        try:
            with httpx2.Client(base_url=server.url, timeout=120,
                               headers={"Authorization": f"Bearer {key}"}) as client:  # fmt: skip
                seconds = bench_upserts(client, args.entities, args.rounds)
                reference = bench_upsert_reference(db, args.entities, args.rounds)
                updates = args.entities * args.rounds
                print(f"{tag} batch upserts {updates / seconds:10,.0f} entity updates/s  "
                      f"(reference: plain UPDATE {updates / reference:,.0f}/s, ratio "
                      f"{reference / seconds:.2f})")  # fmt: skip
                for n in range(10):  # subscriptions that must be tried on every change
                    client.post("/ngsi-ld/v1/subscriptions", headers={
                        "Content-Type": "application/json"}, content=json.dumps({
                        "entities": [{"type": f"Other{n}"}], "notification": {
                            "endpoint": {"uri": "http://127.0.0.1:9/nowhere"}}}))  # fmt: skip
                time.sleep(0.5)
                seconds = bench_upserts(client, args.entities, args.rounds, args.rounds)
                print(f"{tag} batch upserts {updates / seconds:10,.0f} entity updates/s with ten "
                      "subscriptions tried on every change (none wanting these)")  # fmt: skip

                latencies = bench_notifications(client, args.notifications)
                if latencies:
                    print(f"{tag} notification latency p50 {percentile(latencies, 50):.1f} ms  "
                          f"p99 {percentile(latencies, 99):.1f} ms  ({len(latencies)} notifications)")  # fmt: skip

                t0 = time.perf_counter()
                ids = fill_history(db, args.instances)
                print(f"{tag} history: {args.instances:,} instances written in "
                      f"{time.perf_counter() - t0:.0f} s")  # fmt: skip
                if db.dialect == "postgresql":  # what autovacuum does after the fill, at once
                    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                        c.execute(text("VACUUM ANALYZE perception_attribute_instances"))
                api, index = bench_temporal(client, db, ids, args.instances // 1000)
                print(f"{tag} temporal 24 h of one attribute: p50 {percentile(api, 50):.1f} ms  "
                      f"p95 {percentile(api, 95):.1f} ms  (reference, the index alone: p50 "
                      f"{percentile(index, 50):.1f} ms, p95 {percentile(index, 95):.1f} ms; "
                      f"ratio of p95 {percentile(api, 95) / percentile(index, 95):.1f})")  # fmt: skip
            print(f"{tag} the server's peak resident memory: {server.peak_mb():.0f} MB")
        finally:
            server.stop()
        db.dispose()


if __name__ == "__main__":
    sys.exit(main())
