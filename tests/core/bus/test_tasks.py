"""The NATS JetStream bus, against a real server when one is reachable."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import ClassVar

import nats
import nats.js.errors
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.bus.models import OutboxEvent
from citybase.core.bus.schemas import Event, EventEnvelope
from citybase.core.bus.tasks import Worker
from citybase.core.db.engine import Database
from citybase.core.orgs.schemas import UnitChanged
from citybase.core.settings import Settings
from tests.conftest import reachable
from tests.core.orgs.factories import make_city, make_unit

NATS_URL = os.environ.get("CITYBASE_TEST_NATS_URL", "nats://127.0.0.1:4222")
pytestmark = pytest.mark.skipif(
    not reachable(NATS_URL.replace("nats", "http", 1), 4222), reason="NATS is not reachable"
)


class Counted(Event):
    topic: ClassVar[str] = "test.nats.counted"

    n: int


@pytest.fixture
def nats_settings(fresh_settings: Settings) -> Iterator[Settings]:
    """Settings for the NATS bus on a stream of the test's own, deleted afterwards."""
    stream = f"CBTEST_{uuid.uuid4().hex[:8].upper()}"
    yield fresh_settings.model_copy(
        update={
            "bus_url": NATS_URL,
            "bus": fresh_settings.bus.model_copy(update={"stream": stream}),
        }
    )

    async def delete() -> None:
        nc = await nats.connect(NATS_URL)
        with contextlib.suppress(nats.js.errors.NotFoundError):  # a test that failed early
            await nc.jetstream().delete_stream(stream)
        await nc.close()

    asyncio.run(delete())


@pytest.fixture
def counted() -> Iterator[list[int]]:
    seen: list[int] = []

    @bus.consumer("test.nats.sum", "test.nats.counted")
    def add(session: Session, envelope: EventEnvelope) -> None:
        seen.append(Counted.model_validate(envelope.payload).n)

    yield seen
    bus.unregister_consumer("test.nats.sum")


def test_two_workers_share_one_stream_and_apply_each_event_once(
    fresh_db: Database, nats_settings: Settings, counted: list[int]
) -> None:
    first, second = Worker(fresh_db, nats_settings, "w1"), Worker(fresh_db, nats_settings, "w2")
    try:
        with fresh_db.session_scope() as session:
            for n in range(10):
                bus.publish(session, Counted(n=n))
        first.start()
        second.start()
        assert first.nats is not None
        assert second.nats is not None
        assert first.nats.relay() == 10
        assert second.nats.relay() == 0  # already relayed: nothing twice
        # both consume from the same durable consumer: the work is split, none is repeated
        total = 0
        for _ in range(20):
            total += first.nats.consume(batch=3) + second.nats.consume(batch=3)
            if len(counted) >= 10:
                break
        assert sorted(counted) == list(range(10))
        assert total == 10
    finally:
        first.close()
        second.close()


def test_a_relay_repeated_after_a_crash_is_deduplicated(
    fresh_db: Database, nats_settings: Settings, counted: list[int]
) -> None:
    worker = Worker(fresh_db, nats_settings, "w1")
    try:
        with fresh_db.session_scope() as session:
            bus.publish(session, Counted(n=7))
        worker.start()
        assert worker.nats is not None
        worker.nats.relay()
        # the process died before marking the row: it relays the same event again
        with fresh_db.session_scope() as session:
            session.execute(update(OutboxEvent).values(dispatched_at=None))
        worker.nats.relay()
        for _ in range(5):
            worker.nats.consume()
        assert counted == [7]
    finally:
        worker.close()


def test_a_kernel_event_travels_through_nats(fresh_db: Database, nats_settings: Settings) -> None:
    """A unit created through the orgs service reaches a consumer through JetStream."""
    seen: list[str] = []

    @bus.consumer("test.nats.units", UnitChanged.topic)
    def on_unit(session: Session, envelope: EventEnvelope) -> None:
        seen.append(UnitChanged.model_validate(envelope.payload).unit_code)

    worker = Worker(fresh_db, nats_settings, "w1")
    try:
        with fresh_db.session_scope() as session:
            make_city(session)
            make_unit(session, "fz.urban")
        worker.run_until_idle()
        assert seen == ["fz.urban"]
    finally:
        bus.unregister_consumer("test.nats.units")
        worker.close()
