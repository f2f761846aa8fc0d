"""Federation benchmark: messages between a city's deployment and a district's through NATS
JetStream, per second, against the broker alone in the same run.

    python bench/federation_bench.py [--cases 300]

Two SQLite databases in a temporary directory, each with the demo city's register and taxonomy,
one the city's (Gulou 350102 running its own brain) and one Gulou's; one bridge for each, run in
this process (NATS at 127.0.0.1:4222). Down: the city dispatches ``--cases`` cases to Gulou's
bureau, and the bridges carry the ``case.assigned`` messages: relayed from the city's outbox,
taken in and dispatched by the district, each in its own transaction, with its ledger entries and
its answer queued. Up: the district signs each, and the bridges carry the signs and the answers
(two messages a case) to the city, which takes each step. The reference publishes the same number
of messages of the same size to a stream of its own and fetches and acknowledges them, with no
database: the broker's own cost on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path

import citybase.app  # noqa: F401  (registers the bus consumers, as a deployment does)
from citybase.core.bus import service as bus
from citybase.core.db import migrate
from citybase.core.db.engine import Database
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.settings import FederationSettings, Settings
from citybase.demo.seed import DEMO_FILE, TAXONOMY_FILE
from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import Action, ActionIn, CaseCreate
from citybase.hub.events import service as events
from citybase.hub.federation import service
from citybase.hub.federation.tasks import Bridge

NATS_URL = "nats://127.0.0.1:4222"
SYSTEM = Actor.system("bench")
CITY, DISTRICT = "350100", "350102"


def deployment(home: Path, fed: FederationSettings) -> tuple[Database, Settings]:
    home.mkdir(parents=True)
    db = Database(f"sqlite:///{home / 'citybase.db'}")
    migrate.upgrade(db.engine)
    with db.session_scope() as session:
        orgs.import_orgs(session, SYSTEM, DEMO_FILE.name, DEMO_FILE.read_bytes())
        events.import_taxonomy(session, SYSTEM, TAXONOMY_FILE.name, TAXONOMY_FILE.read_bytes())
        service.configure(session, fed, CITY)
    return db, Settings(home=home, database_url=db.url, federation=fed)


def settle(db: Database) -> None:
    while bus.dispatch_in_process(db):
        pass


def carry(src: Bridge, dst: Bridge, expected: int) -> tuple[float, int]:
    """Relay everything waiting on ``src`` and apply it on ``dst``; seconds taken and count."""
    start = time.perf_counter()
    applied = 0
    while True:
        src.relay()
        applied += dst.consume()
        if applied >= expected:
            return time.perf_counter() - start, applied


async def reference(count: int, size: int, run: str) -> float:
    import nats
    from nats.js.api import StreamConfig

    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    name = f"BENCHREF_{run}"
    await js.add_stream(StreamConfig(name=name, subjects=[f"benchref{run}.>"]))
    body = b"x" * size
    start = time.perf_counter()
    for i in range(count):
        await js.publish(f"benchref{run}.m", body, headers={"Nats-Msg-Id": f"{run}-{i}"})
    sub = await js.pull_subscribe(f"benchref{run}.>", durable="ref", stream=name)
    got = 0
    while got < count:
        for msg in await sub.fetch(200, timeout=2):
            await msg.ack()
            got += 1
    seconds = time.perf_counter() - start
    await js.delete_stream(name)
    await nc.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=300)
    args = parser.parse_args()
    n = args.cases
    run = uuid.uuid4().hex[:8]
    common = {"nats_url": NATS_URL, "stream": f"CBBENCH_{run}",
              "subject_root": f"cbbench{run}.federation"}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        city_db, city_settings = deployment(
            Path(tmp) / "city", FederationSettings(role="city", districts=[DISTRICT], **common)
        )
        district_db, district_settings = deployment(
            Path(tmp) / "district",
            FederationSettings(role="district", district_code=DISTRICT, **common),
        )
        city, district = Bridge(city_db, city_settings), Bridge(district_db, district_settings)
        for b in (city, district):
            b.configure()
            b.connect()
        mover = cases.Mover.system("centre")
        numbers = []
        for i in range(n):
            with city_db.session_scope() as session:
                data = CaseCreate(
                    text=f"第{i}号井盖缺失，请尽快处理", address="福州市鼓楼区鼓东街道"
                )
                number = cases.intake(session, mover, data).case.number
                cases.act(session, mover, number, Action.dispatch,
                          ActionIn(lead_unit="gl.urban", category_code="010202"))  # fmt: skip
                numbers.append(number)
        settle(city_db)
        with city_db.session_scope() as session:
            size = sum(len(json.dumps(r[3]).encode()) for r in service.unsent(session)) // n
        down, _ = carry(city, district, n)
        with district_db.session_scope() as session:
            theirs = [link.case_number for link in service.links(session)]
        for number in theirs:
            with district_db.session_scope() as session:
                cases.act(session, mover, number, Action.sign, ActionIn())
        settle(district_db)
        up, _ = carry(district, city, 2 * n)
        with city_db.session_scope() as session:
            signed = sum(cases.get_for_system(session, x).state == "signed" for x in numbers)
        ref = asyncio.run(reference(2 * n, size, run))
        city._run(city._js.delete_stream(city_settings.federation.stream))
        for b in (city, district):
            b.close()
    print(f"cases: {n}; average message {size} bytes; signed on the city's side: {signed}")
    print(f"down (case.assigned, taken in and dispatched): {n / down:,.0f} messages/s "
          f"({down * 1000 / n:.1f} ms each)")  # fmt: skip
    print(f"up (sign + its answer, a step taken or noted): {2 * n / up:,.0f} messages/s "
          f"({up * 1000 / (2 * n):.1f} ms each)")  # fmt: skip
    print(f"reference, the broker alone (publish, fetch, ack): {2 * n / ref:,.0f} messages/s")
    print(f"ratio (reference / up): {ref / up:.3f}")


if __name__ == "__main__":
    main()
