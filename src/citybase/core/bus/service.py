"""Domain events through a transactional outbox, and stored jobs.

``publish`` writes the event to the outbox in the caller's transaction; nothing leaves before
that transaction commits, and a rolled-back change emits nothing. Delivery is at least once: a
consumer records each event it has applied in ``bus_handled`` in the same transaction as the
effect, so a redelivery after a crash is recognised and skipped (exactly-once effect).

Jobs are rows: ``schedule`` stores work to run at a time (once, or every N seconds); the worker
claims due rows, runs the registered handler in its own transaction, and reschedules or retries.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.bus import repository
from citybase.core.bus.models import DeliveryFailure, Job
from citybase.core.bus.schemas import (
    BusOverview,
    DeliveryFailureRead,
    Event,
    EventEnvelope,
    JobProgress,
    JobRead,
    OutboxStatus,
)
from citybase.core.db.engine import Database, after_commit
from citybase.core.progress import Report, Throttled, remaining, silent
from citybase.core.settings import Settings
from citybase.core.shared.service import SharedStore

log = logging.getLogger(__name__)

Handler = Callable[[Session, EventEnvelope], None]


@dataclass(frozen=True)
class JobContext:
    """What a job handler is given: its transaction, the settings, the job's payload, and where
    to report how far it got (``progress(done, total, what)``; a page shows it while it runs)."""

    session: Session
    settings: Settings
    payload: dict[str, Any]
    progress: Report = field(default=silent)


JobHandler = Callable[[JobContext], None]
Interval = Callable[[Settings], int]


@dataclass(frozen=True)
class Consumer:
    name: str
    topics: frozenset[str]
    handler: Handler

    def wants(self, topic: str) -> bool:
        return any(
            topic == t or (t.endswith(".*") and topic.startswith(t[:-1])) for t in self.topics
        )


_consumers: dict[str, Consumer] = {}
_job_handlers: dict[str, JobHandler] = {}
_periodic: dict[str, Interval] = {}
_watched: dict[str, str] = {}  # job kind → the permission that may watch its progress
PROGRESS_SECONDS = 24 * 3600  # how long a job's last progress stays readable
_wakeup = threading.Event()


def consumer(name: str, *topics: str) -> Callable[[Handler], Handler]:
    """Register ``handler(session, envelope)`` under a stable name for the given topics.

    A topic ending in ``.*`` matches every topic below it. The name is how the bus remembers what
    the consumer has handled: renaming a consumer makes it see every undelivered event again.
    """

    def register(handler: Handler) -> Handler:
        _consumers[name] = Consumer(name=name, topics=frozenset(topics), handler=handler)
        return handler

    return register


def unregister_consumer(name: str) -> None:
    _consumers.pop(name, None)


def consumers() -> list[Consumer]:
    return list(_consumers.values())


def publish(session: Session, event: Event) -> None:
    """Queue ``event`` for delivery once the caller's transaction commits."""
    repository.add_outbox(
        session,
        {
            "event_id": event.event_id,
            "topic": event.topic,
            "payload": event.model_dump(mode="json"),
            "created_at": event.occurred_at,
            "dispatched_at": None,
        },
    )
    after_commit(session, _wakeup.set)


def wait_for_work(timeout: float) -> bool:
    """Block until an event was committed or ``timeout`` passed. Used by the worker loop."""
    woken = _wakeup.wait(timeout)
    _wakeup.clear()
    return woken


def status(session: Session, max_attempts: int) -> OutboxStatus:
    return OutboxStatus(**repository.outbox_counts(session, max_attempts))


OVERDUE_SECONDS = 300  # a job due this long ago that nobody holds counts as overdue


def job_counts(session: Session) -> dict[str, int]:
    """``failed``: jobs given up on; ``overdue``: jobs due more than five minutes ago that no
    worker holds (no worker is running, or all are stuck)."""
    now = datetime.now(UTC)
    return repository.job_counts(session, now, now - timedelta(seconds=OVERDUE_SECONDS))


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2 ** min(attempts, 12), 3600))


def apply_event(db: Database, consumer_: Consumer, envelope: EventEnvelope) -> bool:
    """Apply one event to one consumer in its own transaction, once. True if applied or known."""
    with db.session_scope() as session:
        if not repository.is_handled(session, consumer_.name, envelope.event_id):
            consumer_.handler(session, envelope)
            repository.mark_handled(session, consumer_.name, envelope.event_id, datetime.now(UTC))
        # delivered now: an earlier failed attempt is no longer a failure
        repository.clear_failure(session, consumer_.name, envelope.event_id)
    return True


def record_failure(
    db: Database, consumer_: Consumer, event_id: str, error: BaseException
) -> DeliveryFailure:
    with db.session_scope() as session:
        failure = repository.get_failure(session, consumer_.name, event_id)
        if failure is None:
            failure = DeliveryFailure(
                consumer=consumer_.name,
                event_id=event_id,
                attempts=0,
                next_attempt_at=datetime.now(UTC),
            )
            repository.add(session, failure)
        failure.attempts += 1
        failure.last_error = "".join(traceback.format_exception_only(error)).strip()[:2000]
        failure.next_attempt_at = datetime.now(UTC) + _backoff(failure.attempts)
        session.flush()
        session.expunge(failure)
        return failure


def dispatch_in_process(db: Database, *, max_attempts: int = 10, batch: int = 200) -> int:
    """Deliver undispatched outbox events to every registered consumer; returns events finished.

    An event is finished (``dispatched_at`` set) when every consumer that wants it has handled it
    or has given up on it after ``max_attempts``; until then it is retried with backoff.
    """
    with db.session_scope(readonly=True) as session:
        rows = repository.undispatched(session, batch)
        envelopes = [
            EventEnvelope(
                event_id=r.event_id, topic=r.topic, payload=r.payload, created_at=r.created_at
            )
            for r in rows
        ]
        ids = {r.event_id: r.id for r in rows}
        handled = repository.handled_by(session, list(ids))
        failed = repository.failures(session, list(ids))
        failed_state = {k: (f.attempts, f.next_attempt_at) for k, f in failed.items()}
    finished: list[int] = []
    now = datetime.now(UTC)
    for envelope in envelopes:
        done = True
        for c in consumers():
            if not c.wants(envelope.topic) or (c.name, envelope.event_id) in handled:
                continue
            attempts, next_at = failed_state.get((c.name, envelope.event_id), (0, now))
            if attempts >= max_attempts:
                continue  # parked: kept in bus_failures for an operator to look at
            if next_at > now:
                done = False
                continue
            try:
                apply_event(db, c, envelope)
            except Exception as exc:
                log.exception("consumer %s failed on event %s", c.name, envelope.event_id)
                failure = record_failure(db, c, envelope.event_id, exc)
                done = done and failure.attempts >= max_attempts
        if done:
            finished.append(ids[envelope.event_id])
    if finished:
        with db.session_scope() as session:
            repository.mark_dispatched(session, finished, datetime.now(UTC))
    return len(finished)


# --- jobs --------------------------------------------------------------------------------------


def job(
    kind: str, *, every: Interval | None = None, watch: str | None = None
) -> Callable[[JobHandler], JobHandler]:
    """Register ``handler(ctx)`` for jobs of ``kind``.

    With ``every`` (settings → seconds) the job is periodic: every worker makes sure one row for
    it exists when it starts. With ``watch`` (a permission), those holding it may follow the
    job's progress from a page while it runs.
    """

    def register(handler: JobHandler) -> JobHandler:
        _job_handlers[kind] = handler
        if every is not None:
            _periodic[kind] = every
        if watch is not None:
            _watched[kind] = watch
        return handler

    return register


def ensure_periodic_jobs(db: Database, settings: Settings) -> None:
    with db.session_scope() as session:
        for kind, every in _periodic.items():
            ensure_periodic(session, kind, every(settings))


def schedule(
    session: Session,
    kind: str,
    *,
    run_at: datetime | None = None,
    payload: dict[str, Any] | None = None,
    key: str | None = None,
    every_seconds: int | None = None,
    max_attempts: int = 5,
) -> JobRead:
    """Store work to run at ``run_at`` (now by default), optionally again every N seconds.

    With a ``key``, scheduling the same key again moves the existing job instead of adding one.
    """
    when = run_at or datetime.now(UTC)
    existing = repository.get_job_by_key(session, key) if key else None
    if existing is not None:
        existing.run_at = when
        existing.payload = payload or {}
        existing.interval_seconds = every_seconds
        existing.status = "pending"
        existing.attempts = 0
        session.flush()
        after_commit(session, _wakeup.set)
        return JobRead.model_validate(existing)
    row = Job(
        kind=kind,
        key=key,
        payload=payload or {},
        run_at=when,
        interval_seconds=every_seconds,
        status="pending",
        attempts=0,
        max_attempts=max_attempts,
        last_error="",
        locked_by="",
    )
    repository.add(session, row)
    after_commit(session, _wakeup.set)
    return JobRead.model_validate(row)


def ensure_periodic(session: Session, kind: str, every_seconds: int) -> None:
    """Schedule a periodic job once (keyed by its kind); keeps its next run if it exists."""
    existing = repository.get_job_by_key(session, f"periodic:{kind}")
    if existing is None or existing.interval_seconds != every_seconds:
        schedule(session, kind, key=f"periodic:{kind}", every_seconds=every_seconds)


def run_due_jobs(
    db: Database,
    settings: Settings,
    worker_id: str,
    *,
    limit: int = 20,
    stop: threading.Event | None = None,
    store: SharedStore | None = None,
) -> int:
    """Claim due jobs, run each in its own transaction; returns how many ran. When ``stop`` is
    set (the worker is shutting down), the job running is finished and the claims of those not
    begun are handed back, so another worker takes them at once instead of after the lease.
    With a shared ``store``, the progress a job reports is kept there for pages to show."""
    now = datetime.now(UTC)
    with db.session_scope() as session:
        claimed = repository.due_jobs(session, now, limit)
        for j in claimed:
            j.status = "running"
            j.locked_by = worker_id
            j.locked_until = now + timedelta(seconds=settings.worker.lease_seconds)
        jobs = [(j.id, j.kind, dict(j.payload)) for j in claimed]
    ran = 0
    for n, (job_id, kind, payload) in enumerate(jobs):
        if stop is not None and stop.is_set():
            release_jobs(db, worker_id, [j[0] for j in jobs[n:]])
            break
        ran += 1
        error: BaseException | None = None
        handler = _job_handlers.get(kind)
        report = silent if store is None else _reporter(store, job_id, kind)
        try:
            if handler is None:
                raise LookupError(f"no handler registered for job kind {kind!r}")
            with db.session_scope() as session:
                handler(JobContext(session=session, settings=settings, payload=payload,
                                   progress=report))  # fmt: skip
        except Exception as exc:
            log.exception("job %s (%s) failed", job_id, kind)
            error = exc
        _finish_job(db, job_id, error)
    return ran


def _progress_key(job_id: int) -> str:
    return f"progress:job:{job_id}"


def _keeper(store: SharedStore, key: str, who: dict[str, str]) -> Report:
    """A report kept in the shared store under ``key`` (not a job's row: the work's own
    transaction may hold the database's write lock, and a page reads the progress from another
    process), with ``who`` it is for; at most two writes a second."""
    started = time.time()

    def keep(done: float, total: float, what: str) -> None:
        value = who | {"done": done, "total": total, "what": what[:300], "started": started,
                       "at": time.time()}  # fmt: skip
        try:
            store.put(key, json.dumps(value), PROGRESS_SECONDS)
        except Exception:  # progress is worth showing, never worth failing the work for
            log.warning("progress under %s not kept", key, exc_info=True)

    return Throttled(keep)


def _reporter(store: SharedStore, job_id: int, kind: str) -> Report:
    """A stored job's report, under the job's id."""
    report = _keeper(store, _progress_key(job_id), {"kind": kind})
    report(0, 0, "")
    return report


def _form_key(token: str) -> str:
    return "progress:form:" + hashlib.sha256(token.encode()).hexdigest()[:40]


def form_reporter(store: SharedStore, token: str, username: str) -> Report:
    """The report of long work a form's submission (or a download) does within its request:
    kept under the one-time token the page that sent it knows and follows while it waits for
    the answer, for ``username`` alone."""
    return _keeper(store, _form_key(token), {"user": username})


def form_progress(store: SharedStore, token: str, username: str) -> JobProgress | None:
    """How far the work of the form sent with ``token`` got, for the user who sent it (None for
    anyone else, or before it began)."""
    found = store.get(_form_key(token)) if token else None
    kept = json.loads(found) if found else None
    if kept is None or kept.get("user") != username:
        return None
    done, total = float(kept["done"]), float(kept["total"])
    elapsed = float(kept["at"]) - float(kept["started"])
    return JobProgress(
        id=0, kind="form", status="done" if total and done >= total else "running", done=done,
        total=total, what=str(kept["what"]), elapsed_seconds=round(elapsed, 1),
        remaining_seconds=remaining(elapsed, done, total), last_error="",
    )  # fmt: skip


def watch_permission(kind: str) -> str | None:
    """The permission that may follow jobs of ``kind`` (None: nobody outside the system page)."""
    return _watched.get(kind)


def job_progress(session: Session, store: SharedStore, job_id: int) -> JobProgress | None:
    """How far job ``job_id`` got: its state from its row, the last report from the store."""
    row = repository.get_job(session, job_id)
    if row is None:
        return None
    found = store.get(_progress_key(job_id))
    kept = json.loads(found) if found else {}
    done, total = float(kept.get("done", 0)), float(kept.get("total", 0))
    running = row.status == "running"
    elapsed = float(kept["at"]) - float(kept["started"]) if kept else 0.0
    return JobProgress(
        id=row.id, kind=row.kind, status=row.status, done=done, total=total,
        what=str(kept.get("what", "")), elapsed_seconds=round(elapsed, 1),
        remaining_seconds=remaining(elapsed, done, total) if running else None,
        last_error=row.last_error,
    )  # fmt: skip


def find_job(session: Session, key: str) -> JobRead | None:
    """The job stored under ``key`` (its latest state), if any."""
    row = repository.get_job_by_key(session, key)
    return None if row is None else JobRead.model_validate(row)


def release_jobs(db: Database, worker_id: str, job_ids: list[int] | None = None) -> int:
    """Hand back the jobs ``worker_id`` claimed and has not run (all of them when ``job_ids`` is
    None): pending again, due at once for any worker."""
    with db.session_scope() as session:
        released = repository.release_jobs(session, worker_id, job_ids)
    if released:
        log.info("worker %s handed back %d claimed jobs", worker_id, released)
    return released


def _finish_job(db: Database, job_id: int, error: BaseException | None) -> None:
    now = datetime.now(UTC)
    with db.session_scope() as session:
        j = repository.get_job(session, job_id)
        if j is None:
            return
        j.locked_by = ""
        j.locked_until = None
        if error is None:
            j.attempts = 0
            j.last_error = ""
            if j.interval_seconds:
                j.status = "pending"
                j.run_at = now + timedelta(seconds=j.interval_seconds)
            else:
                j.status = "done"
                j.finished_at = now
            return
        j.attempts += 1
        j.last_error = "".join(traceback.format_exception_only(error)).strip()[:2000]
        if j.attempts >= j.max_attempts and not j.interval_seconds:
            j.status = "failed"
            j.finished_at = now
        else:
            j.status = "pending"
            j.run_at = now + _backoff(j.attempts)


def overview(session: Session, max_attempts: int) -> BusOverview:
    """What an operator needs to see: the backlog, failing and parked deliveries, and the jobs."""
    return BusOverview(
        outbox=status(session, max_attempts),
        failures=[DeliveryFailureRead.model_validate(f) for f in repository.list_failures(session)],
        jobs=[JobRead.model_validate(j) for j in repository.list_jobs(session)],
    )
