from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.bus.models import DeliveryFailure, HandledEvent, Job, OutboxEvent
from citybase.core.bus.schemas import Event, EventEnvelope
from citybase.core.bus.tasks import Worker
from citybase.core.db.engine import Database
from citybase.core.settings import Settings


class Pinged(Event):
    topic: ClassVar[str] = "test.bus.pinged"

    n: int


@pytest.fixture
def received() -> Iterator[list[int]]:
    seen: list[int] = []

    @bus.consumer("test.collector", "test.bus.*")
    def collect(session: Session, envelope: EventEnvelope) -> None:
        seen.append(Pinged.model_validate(envelope.payload).n)

    yield seen
    bus.unregister_consumer("test.collector")


def test_events_leave_only_after_commit(fresh_db: Database, received: list[int]) -> None:
    with fresh_db.session_scope() as session:
        bus.publish(session, Pinged(n=1))
        assert bus.dispatch_in_process(fresh_db) == 0  # not committed yet: invisible
    assert bus.dispatch_in_process(fresh_db) == 1
    assert received == [1]
    assert bus.dispatch_in_process(fresh_db) == 0


def test_a_rolled_back_change_emits_nothing(fresh_db: Database, received: list[int]) -> None:
    def failing_change() -> None:
        with fresh_db.session_scope() as session:
            bus.publish(session, Pinged(n=2))
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    assert bus.dispatch_in_process(fresh_db) == 0
    assert received == []


def test_redelivery_is_not_applied_twice(fresh_db: Database, received: list[int]) -> None:
    with fresh_db.session_scope() as session:
        bus.publish(session, Pinged(n=3))
    bus.dispatch_in_process(fresh_db)
    # a crash after the effect but before the outbox row was marked: it comes round again
    with fresh_db.session_scope() as session:
        for row in session.scalars(select(OutboxEvent)):
            row.dispatched_at = None
    bus.dispatch_in_process(fresh_db)
    assert received == [3]
    with fresh_db.session_scope(readonly=True) as session:
        assert session.scalars(select(HandledEvent.consumer)).all() == ["test.collector"]


def test_a_failing_consumer_is_retried_then_parked(fresh_db: Database) -> None:
    calls: list[str] = []

    @bus.consumer("test.flaky", "test.bus.pinged")
    def flaky(session: Session, envelope: EventEnvelope) -> None:
        calls.append(envelope.event_id)
        raise ValueError("downstream is down")

    try:
        with fresh_db.session_scope() as session:
            bus.publish(session, Pinged(n=4))
        assert bus.dispatch_in_process(fresh_db, max_attempts=2) == 0
        assert len(calls) == 1
        assert bus.dispatch_in_process(fresh_db, max_attempts=2) == 0  # backing off: not yet
        assert len(calls) == 1
        with fresh_db.session_scope() as session:
            failure = session.scalars(select(DeliveryFailure)).one()
            assert "downstream is down" in failure.last_error
            failure.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)
        assert bus.dispatch_in_process(fresh_db, max_attempts=2) == 1  # second failure: parked
        assert len(calls) == 2
        with fresh_db.session_scope(readonly=True) as session:
            status = bus.status(session, 2)
        assert (status.pending, status.parked) == (0, 1)
    finally:
        bus.unregister_consumer("test.flaky")


def test_one_shot_job_runs_once(fresh_db: Database, fresh_settings: Settings) -> None:
    runs: list[dict[str, object]] = []
    bus.job("test.once")(lambda ctx: runs.append(ctx.payload))
    with fresh_db.session_scope() as session:
        bus.schedule(session, "test.once", payload={"x": 1})
        bus.schedule(
            session, "test.once", payload={"x": 2}, run_at=datetime.now(UTC) + timedelta(hours=1)
        )
    assert bus.run_due_jobs(fresh_db, fresh_settings, "w1") == 1
    assert bus.run_due_jobs(fresh_db, fresh_settings, "w1") == 0
    assert runs == [{"x": 1}]
    with fresh_db.session_scope(readonly=True) as session:
        statuses = sorted(j.status for j in session.scalars(select(Job)))
    assert statuses == ["done", "pending"]


def test_failed_job_is_retried_later(fresh_db: Database, fresh_settings: Settings) -> None:
    def boom(ctx: bus.JobContext) -> None:
        raise RuntimeError("no")

    bus.job("test.boom")(boom)
    with fresh_db.session_scope() as session:
        bus.schedule(session, "test.boom", max_attempts=2)
    bus.run_due_jobs(fresh_db, fresh_settings, "w1")
    with fresh_db.session_scope() as session:
        job = session.scalars(select(Job)).one()
        assert (job.status, job.attempts) == ("pending", 1)
        assert job.run_at > datetime.now(UTC)
        job.run_at = datetime.now(UTC)
    bus.run_due_jobs(fresh_db, fresh_settings, "w1")
    with fresh_db.session_scope(readonly=True) as session:
        assert session.scalars(select(Job.status)).one() == "failed"


def test_periodic_jobs_survive_a_restart(fresh_db: Database, fresh_settings: Settings) -> None:
    """The ledger's tree-head job is a stored row: a new worker finds it, and does not add one."""
    Worker(fresh_db, fresh_settings).start()
    Worker(fresh_db, fresh_settings).start()
    with fresh_db.session_scope(readonly=True) as session:
        kinds = session.scalars(select(Job.kind).where(Job.interval_seconds.is_not(None))).all()
    assert kinds.count("core.ledger.sign_tree_head") == 1


def test_worker_runs_until_idle(
    fresh_db: Database, fresh_settings: Settings, received: list[int]
) -> None:
    with fresh_db.session_scope() as session:
        for n in range(5):
            bus.publish(session, Pinged(n=n))
    worker = Worker(fresh_db, fresh_settings)
    assert worker.run_until_idle() >= 5
    assert sorted(received) == [0, 1, 2, 3, 4]


def test_overview_shows_backlog_failures_and_jobs(fresh_db: Database) -> None:
    @bus.consumer("test.broken", "test.bus.pinged")
    def broken(session: Session, envelope: EventEnvelope) -> None:
        raise LookupError("no such case")

    try:
        with fresh_db.session_scope() as session:
            bus.publish(session, Pinged(n=9))
            bus.schedule(session, "test.later", run_at=datetime.now(UTC) + timedelta(hours=1))
        bus.dispatch_in_process(fresh_db)
        with fresh_db.session_scope(readonly=True) as session:
            overview = bus.overview(session, max_attempts=10)
        assert overview.outbox.pending == 1
        assert overview.outbox.failing == 1
        assert "no such case" in overview.failures[0].last_error
        assert [j.kind for j in overview.jobs] == ["test.later"]
    finally:
        bus.unregister_consumer("test.broken")


def test_worker_keeps_trying_when_it_cannot_start(
    fresh_db: Database, fresh_settings: Settings
) -> None:
    import threading

    attempts: list[int] = []
    worker = Worker(fresh_db, fresh_settings)
    original = worker.start

    def flaky_start() -> None:
        attempts.append(1)
        if len(attempts) < 2:
            raise ConnectionError("broker not there yet")
        original()

    worker.start = flaky_start  # type: ignore[method-assign]
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,))
    thread.start()
    for _ in range(100):
        if len(attempts) >= 2:
            break
        threading.Event().wait(0.05)
    stop.set()
    thread.join(timeout=10)
    assert len(attempts) >= 2
    assert not thread.is_alive()


def test_a_delivery_that_succeeds_on_retry_is_no_longer_failing(fresh_db: Database) -> None:
    calls: list[int] = []

    @bus.consumer("test.second_time", "test.bus.pinged")
    def second_time(session: Session, envelope: EventEnvelope) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise TimeoutError("slow downstream")

    try:
        with fresh_db.session_scope() as session:
            bus.publish(session, Pinged(n=5))
        bus.dispatch_in_process(fresh_db)
        with fresh_db.session_scope() as session:
            assert bus.status(session, 10).failing == 1
            failure = session.scalars(select(DeliveryFailure)).one()
            failure.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)
        assert bus.dispatch_in_process(fresh_db) == 1
        with fresh_db.session_scope(readonly=True) as session:
            status = bus.status(session, 10)
        assert (status.failing, status.pending) == (0, 0)
    finally:
        bus.unregister_consumer("test.second_time")
