"""A city and a district as separate deployments on one machine: two databases (SQLite files, and
PostgreSQL databases when it is reachable), one NATS server, each side's bridge its own process. A
case goes up, down and back; the district's bridge is stopped while both sides go on working; once
it is back, both sides agree.

Skipped when NATS is not reachable at 127.0.0.1:4222."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, func, make_url, select, text

from citybase.core.db import migrate
from citybase.core.db.engine import Database
from citybase.core.ledger.models import LedgerEntry
from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import Action, ActionIn
from citybase.hub.federation import service
from tests.conftest import POSTGRES_URL, reachable
from tests.hub.cases.factories import ROAD, mover
from tests.hub.federation.factories import DISTRICT, deployment, scope, settle

NATS_URL = "nats://127.0.0.1:4222"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not reachable(NATS_URL, 4222), reason="NATS is not reachable"),
]
PATIENCE = 120.0  # seconds a side is given to catch up before the test says it never did


class Side:
    """One deployment: its data directory, its database and its bridge process."""

    def __init__(self, root: Path, role: str, run: str, url: str) -> None:
        self.role = role
        self.home = root / role
        self.home.mkdir()
        self.db = Database(url or f"sqlite:///{self.home / 'citybase.db'}")
        migrate.upgrade(self.db.engine)
        deployment(self.db, role)
        self.env = {
            **os.environ,
            "CITYBASE_HOME": str(self.home),
            "CITYBASE_DATABASE_URL": url,
            "CITYBASE_BUS_URL": "",
            "CITYBASE_FEDERATION__ROLE": role,
            "CITYBASE_FEDERATION__NATS_URL": NATS_URL,
            "CITYBASE_FEDERATION__STREAM": f"CBTEST_{run}",
            "CITYBASE_FEDERATION__SUBJECT_ROOT": f"cbtest{run}.federation",
            "CITYBASE_FEDERATION__POLL_SECONDS": "0.2",
            **(
                {"CITYBASE_FEDERATION__DISTRICTS": f'["{DISTRICT}"]'}
                if role == "city"
                else {"CITYBASE_FEDERATION__DISTRICT_CODE": DISTRICT}
            ),
        }
        self.bridge: subprocess.Popen[bytes] | None = None
        self.log = self.home / "bridge.log"

    def citybase(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "citybase.cli", *args], env=self.env,
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.bridge = subprocess.Popen(
                [sys.executable, "-m", "citybase.cli", "federation", "bridge"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def stop(self) -> None:
        if self.bridge is not None and self.bridge.poll() is None:
            self.bridge.send_signal(signal.SIGTERM)
            try:
                self.bridge.wait(30)
            except subprocess.TimeoutExpired:
                self.bridge.kill()
                self.bridge.wait(10)
        self.bridge = None

    def work(self, who: str | None, number: str, action: Action, **data: object) -> None:
        """A person at this side's console takes a step; this side's worker delivers it."""
        with scope(self.db) as session:
            m = mover(session, who) if who else cases.Mover.system("centre")
            cases.act(session, m, number, action, ActionIn.model_validate(data))
        settle(self.db)

    def take_in(self) -> str:
        with scope(self.db) as session:
            data = ROAD.model_copy(update={"category_code": ""})
            number = cases.intake(session, cases.Mover.system("test"), data).case.number
        settle(self.db)
        return number

    def state(self, number: str) -> str:
        with scope(self.db) as session:
            return str(cases.get_for_system(session, number).state)

    def link(self, number: str) -> service.LinkRead | None:  # type: ignore[name-defined]
        with scope(self.db) as session:
            return service.link_of_case(session, number)

    def linked(self, peer_number: str) -> str:
        with scope(self.db) as session:
            found = [x for x in service.links(session) if x.peer_number == peer_number]
        return found[0].case_number if found else ""

    def waiting(self) -> int:
        with scope(self.db) as session:
            return sum(s.waiting_out for s in service.status(session))

    def entries(self, action: str) -> int:
        with scope(self.db) as session:
            return session.scalar(select(func.count()).where(LedgerEntry.action == action)) or 0

    def steps(self, number: str) -> list[str]:
        with scope(self.db) as session:
            return [s.action for s in cases.steps_for_system(session, number)]


@pytest.fixture(params=["sqlite", "postgresql"])
def sides(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Side, Side]]:
    """The two deployments, each on a database of its own: two SQLite files, or two PostgreSQL
    databases beside the tests' own (made afresh, dropped afterwards)."""
    run = uuid.uuid4().hex[:10]
    urls = {"city": "", "district": ""}
    if request.param == "postgresql":
        if not reachable(POSTGRES_URL, 5432):
            pytest.skip("PostgreSQL is not reachable")
        urls = {role: _database(f"{role}_{run}") for role in urls}
    city = Side(tmp_path, "city", run, urls["city"])
    district = Side(tmp_path, "district", run, urls["district"])
    city.start()
    district.start()
    yield city, district
    for side in (city, district):
        side.stop()
        side.db.dispose()
    asyncio.run(_delete_stream(f"CBTEST_{run}"))
    for url in urls.values():
        if url:
            _drop(url)


def _database(suffix: str) -> str:
    """A new PostgreSQL database named after the tests' own, with ``suffix``; its URL."""
    base = make_url(POSTGRES_URL)
    name = f"{base.database}_{suffix}"
    with _server() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return base.set(database=name).render_as_string(hide_password=False)


def _drop(url: str) -> None:
    with _server() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))


@contextlib.contextmanager
def _server() -> Iterator[Connection]:
    """A connection to the tests' own database outside any transaction, as CREATE DATABASE asks."""
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


async def _delete_stream(name: str) -> None:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(NATS_URL)
    with contextlib.suppress(NotFoundError):  # never created: no bridge got that far
        await nc.jetstream().delete_stream(name)
    await nc.close()


def until(what: str, check: Callable[[], bool], *sides: Side) -> None:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    logs = "\n".join(f"--- {s.role} bridge:\n{s.log.read_text()[-3000:]}" for s in sides)
    pytest.fail(f"never happened: {what}\n{logs}")


def test_up_down_and_back_across_a_cut_link(sides: tuple[Side, Side]) -> None:
    city, district = sides
    # 上报: the district's centre escalates a case; the city takes it in
    a = district.take_in()
    district.work(None, a, Action.escalate, note="需要市级统筹")
    until("the city takes the escalated case in", lambda: bool(city.linked(a)), city, district)
    a_city = city.linked(a)
    # the city sends it back down to the district's bureau
    city.work(None, a_city, Action.dispatch, lead_unit="gl.urban", category_code="010202")
    until("the district's case is dispatched too", lambda: district.state(a) == "dispatched",
          city, district)  # fmt: skip
    # 下派: a case of the city's, dispatched to the district's bureau
    b_city = city.take_in()
    city.work(None, b_city, Action.dispatch, lead_unit="gl.urban", category_code="010202")
    until("the district takes the assigned case in", lambda: bool(district.linked(b_city)),
          city, district)  # fmt: skip
    b = district.linked(b_city)

    # the link is cut: the district's bridge stops; both sides go on working
    district.stop()
    district.work("gl.handler", a, Action.sign)
    district.work("gl.handler", a, Action.note, note="已派人到场")
    district.work("gl.handler", a, Action.reply, reply="井盖已补装")
    district.work("gl.handler", b, Action.sign)
    c = district.take_in()
    district.work(None, c, Action.escalate, note="跨区事项")
    with scope(district.db) as session:
        service.roll_up(session)
    city.work(None, b_city, Action.urge, note="请加快办理")
    d = city.take_in()
    city.work(None, d, Action.close, reply="已当场答复")
    waiting = district.waiting()
    assert waiting == 6  # three steps of a, one of b, c escalated, the figures
    assert city.state(a_city) == "dispatched"  # the city has not heard of them
    assert not city.linked(c)

    # the link comes back: the district catches up, in order
    district.start()
    until("the district's outbox is empty", lambda: district.waiting() == 0, city, district)
    until("the city's case has the district's steps",
          lambda: city.state(a_city) == "replied", city, district)  # fmt: skip
    until("the urge reaches the district", lambda: "urge" in district.steps(b), city, district)
    until("the cross-district case reaches the city", lambda: bool(city.linked(c)), city, district)
    until("the city has the district's figures", lambda: _figures(city) is not None,
          city, district)  # fmt: skip

    # both sides agree: each case's state, and each side's record of the other's (the last
    # state change a side took in may still be on its way back as the other's news)
    for here, there in ((a_city, a), (b_city, b)):
        until(f"both sides agree on {here}", lambda h=here, t=there: _agree(city, h, district, t),
              city, district)  # fmt: skip
    assert city.steps(a_city)[-3:] == ["sign", "note", "reply"]  # in the order taken
    assert city.state(d) == "closed"
    assert not district.linked(d)  # the city's own case stays the city's
    # both ledgers: what one side sent, the other received
    until("every message is received",
          lambda: district.entries("hub.federation.sent") == city.entries(
              "hub.federation.received") and city.entries("hub.federation.sent") == district.entries(
              "hub.federation.received"), city, district)  # fmt: skip
    # the district: a up, a's three steps, b's one, c up, the figures, and its receipts of the
    # city's three (a dispatched, b assigned, b urged); the city: those three and its receipts
    # of the district's six about cases
    assert district.entries("hub.federation.sent") == 10
    assert city.entries("hub.federation.sent") == 9
    shown = city.citybase("federation", "status")
    assert shown.returncode == 0, shown.stderr
    assert DISTRICT in shown.stdout
    assert "up" in shown.stdout


def _agree(city: Side, here: str, district: Side, there: str) -> bool:
    state = city.state(here)
    return (
        state == district.state(there)
        and city.link(here).peer_state == state  # type: ignore[union-attr]
        and district.link(there).peer_state == state  # type: ignore[union-attr]
    )


def _figures(side: Side) -> dict[str, object] | None:
    with scope(side.db) as session:
        [peer] = service.status(session)
    return peer.figures or None
