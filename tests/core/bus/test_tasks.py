"""The NATS JetStream bus, against a real server when one is reachable."""

from __future__ import annotations

import os
import uuid
from typing import ClassVar

import pytest
from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.bus.schemas import Event, EventEnvelope
from citybase.core.bus.tasks import Worker
from citybase.core.db.engine import Database
from citybase.core.settings import Settings
from tests.conftest import reachable

NATS_URL = os.environ.get("CITYBASE_TEST_NATS_URL", "nats://127.0.0.1:4222")
pytestmark = pytest.mark.skipif(
    not reachable(NATS_URL.replace("nats", "http", 1), 4222), reason="NATS is not reachable"
)


class Counted(Event):
    topic: ClassVar[str] = "test.nats.counted"

    n: int


def _settings(base: Settings, stream: str) -> Settings:
    return base.model_copy(
        update={"bus_url": NATS_URL, "bus": base.bus.model_copy(update={"stream": stream})}
    )


def test_two_workers_share_one_stream_and_apply_each_event_once(
    fresh_db: Database, fresh_settings: Settings
) -> None:
    stream = f"CBTEST_{uuid.uuid4().hex[:8].upper()}"
    settings = _settings(fresh_settings, stream)
    seen: list[int] = []

    @bus.consumer("test.nats.sum", "test.nats.counted")
    def add(session: Session, envelope: EventEnvelope) -> None:
        seen.append(Counted.model_validate(envelope.payload).n)

    first, second = Worker(fresh_db, settings, "w1"), Worker(fresh_db, settings, "w2")
    try:
        with fresh_db.session_scope() as session:
            for n in range(10):
                bus.publish(session, Counted(n=n))
        assert first.nats is not None
        assert second.nats is not None
        first.start()
        second.start()
        assert first.nats.relay() == 10
        assert second.nats.relay() == 0  # already relayed: nothing twice
        # both consume from the same durable consumer: the work is split, none is repeated
        total = 0
        for _ in range(20):
            total += first.nats.consume(batch=3) + second.nats.consume(batch=3)
            if len(seen) >= 10:
                break
        assert sorted(seen) == list(range(10))
        assert total == 10
    finally:
        bus.unregister_consumer("test.nats.sum")
        for worker in (first, second):
            if worker.nats is not None and worker.nats._js is not None:
                worker.nats._run(worker.nats._js.delete_stream(stream))
                break
        first.close()
        second.close()


def test_a_relay_repeated_after_a_crash_is_deduplicated(
    fresh_db: Database, fresh_settings: Settings
) -> None:
    stream = f"CBTEST_{uuid.uuid4().hex[:8].upper()}"
    settings = _settings(fresh_settings, stream)
    seen: list[int] = []

    @bus.consumer("test.nats.dedup", "test.nats.counted")
    def add(session: Session, envelope: EventEnvelope) -> None:
        seen.append(Counted.model_validate(envelope.payload).n)

    worker = Worker(fresh_db, settings, "w1")
    try:
        with fresh_db.session_scope() as session:
            bus.publish(session, Counted(n=7))
        worker.start()
        assert worker.nats is not None
        worker.nats.relay()
        # the process died before marking the row: it relays the same event again
        from sqlalchemy import update

        from citybase.core.bus.models import OutboxEvent

        with fresh_db.session_scope() as session:
            session.execute(update(OutboxEvent).values(dispatched_at=None))
        worker.nats.relay()
        for _ in range(5):
            worker.nats.consume()
        assert seen == [7]
    finally:
        bus.unregister_consumer("test.nats.dedup")
        if worker.nats is not None and worker.nats._js is not None:
            worker.nats._run(worker.nats._js.delete_stream(stream))
        worker.close()
