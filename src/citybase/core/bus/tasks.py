"""The worker: moves events from the outbox to consumers and runs due jobs.

``citybase worker`` runs it on its own; ``citybase serve`` runs one in a background thread. With
the default in-process bus each process delivers the events of the shared database to its own
consumers. With ``CITYBASE_BUS_URL=nats://…`` the worker relays committed outbox rows to a
JetStream stream (message id = event id, so a relay repeated after a crash is deduplicated) and
consumes them through one durable consumer per (consumer, topic), so several processes share the
work and every event reaches every consumer name once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

from citybase.core.bus import repository
from citybase.core.bus import service as bus
from citybase.core.bus.schemas import EventEnvelope
from citybase.core.db.engine import Database
from citybase.core.settings import Settings
from citybase.core.shared.service import SharedStore

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        worker_id: str | None = None,
        shared: SharedStore | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.shared = shared  # where the jobs' progress is kept for pages to show
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.nats: NatsTransport | None = (
            NatsTransport(db, settings) if settings.bus_url.startswith("nats") else None
        )
        self._started = False
        self.stop = threading.Event()
        self.beat = time.monotonic()  # when the loop last turned (liveness)
        self.working_since: float | None = None  # a round in progress, since when

    def start(self) -> None:
        if not self._started:
            bus.ensure_periodic_jobs(self.db, self.settings)
            if self.nats is not None:
                self.nats.connect()
            self._started = True

    def run_once(self) -> int:
        """One round of delivery and jobs; returns how much work was done."""
        self.start()
        self.working_since = time.monotonic()
        try:
            if self.nats is not None:
                done = self.nats.relay() + self.nats.consume(stop=self.stop)
            else:
                done = bus.dispatch_in_process(self.db, max_attempts=self.settings.bus.max_attempts)
            done += bus.run_due_jobs(
                self.db, self.settings, self.worker_id, stop=self.stop, store=self.shared
            )
        finally:
            self.working_since = None
            self.beat = time.monotonic()
        return done

    def run_until_idle(self, max_rounds: int = 100) -> int:
        total = 0
        for _ in range(max_rounds):
            done = self.run_once()
            total += done
            if not done:
                break
        return total

    def alive(self) -> bool:
        """Liveness: the loop turned within ``worker.stale_seconds``, or a round is running."""
        return self.working_since is not None or (
            time.monotonic() - self.beat < self.settings.worker.stale_seconds
        )

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Work until ``stop`` (or ``self.stop``) is set; then finish the job or message in
        hand, hand back the claims not begun, and close."""
        if stop is not None:
            self.stop = stop
        stop = self.stop
        delay = 1.0
        while not stop.is_set():
            try:
                self.start()
                break
            except Exception:
                # the broker or the database is not there yet: keep trying, do not die quietly
                log.exception("worker could not start; retrying in %.0f s", delay)
                stop.wait(delay)
                delay = min(delay * 2, 60)
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:
                log.exception("worker round failed")
                busy = 0
            self.beat = time.monotonic()
            if not busy and not stop.is_set():
                bus.wait_for_work(self.settings.worker.poll_seconds)
        self.close()

    def close(self) -> None:
        try:
            bus.release_jobs(self.db, self.worker_id)
        except Exception:
            log.exception("worker %s could not hand back its claims", self.worker_id)
        if self.nats is not None:
            self.nats.close()


def _durable_name(consumer: str, topic: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{consumer}__{topic}")[:200]


class NatsTransport:
    """Relay the outbox to NATS JetStream and consume from it, driven from a sync worker."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.stream = settings.bus.stream
        self.prefix = settings.bus.stream.lower()
        self._loop = asyncio.new_event_loop()
        self._nc: Any = None
        self._js: Any = None
        self._subs: dict[str, Any] = {}

    def subject(self, topic: str) -> str:
        if topic.endswith(".*"):
            return f"{self.prefix}.{topic[:-2]}.>"
        return f"{self.prefix}.{topic}"

    def _run(self, coro: Any) -> Any:
        return self._loop.run_until_complete(coro)

    def connect(self) -> None:
        import nats
        import nats.js.errors

        async def _connect() -> None:
            self._nc = await nats.connect(self.settings.bus_url, connect_timeout=5)
            self._js = self._nc.jetstream()
            try:
                await self._js.stream_info(self.stream)
            except nats.js.errors.NotFoundError:
                await self._js.add_stream(name=self.stream, subjects=[f"{self.prefix}.>"])

        self._run(_connect())

    def relay(self, batch: int = 500) -> int:
        """Publish committed outbox rows to the stream and mark them dispatched."""
        with self.db.session_scope(readonly=True) as session:
            rows = [
                (r.id, r.event_id, r.topic, r.payload, r.created_at)
                for r in repository.undispatched(session, batch)
            ]
        if not rows:
            return 0

        async def _publish() -> None:
            for _, event_id, topic, payload, created_at in rows:
                envelope = EventEnvelope(
                    event_id=event_id, topic=topic, payload=payload, created_at=created_at
                )
                await self._js.publish(
                    self.subject(topic),
                    envelope.model_dump_json().encode(),
                    headers={"Nats-Msg-Id": event_id},
                )

        self._run(_publish())
        with self.db.session_scope() as session:
            repository.mark_dispatched(session, [r[0] for r in rows], datetime.now(UTC))
        return len(rows)

    def _subscription(self, consumer: bus.Consumer, topic: str) -> Any:
        durable = _durable_name(consumer.name, topic)
        sub = self._subs.get(durable)
        if sub is None:
            sub = self._run(
                self._js.pull_subscribe(self.subject(topic), durable=durable, stream=self.stream)
            )
            self._subs[durable] = sub
        return sub

    def consume(self, batch: int = 100, stop: threading.Event | None = None) -> int:
        """Apply what each durable consumer has waiting. Once ``stop`` is set, the message in
        hand is finished and the rest of the batch handed back at once (nak without delay), for
        another process to take."""
        applied = 0
        max_attempts = self.settings.bus.max_attempts
        for consumer in bus.consumers():
            for topic in sorted(consumer.topics):
                sub = self._subscription(consumer, topic)
                try:
                    msgs = self._run(sub.fetch(batch, timeout=0.2))
                except TimeoutError:
                    # nothing waiting: nats-py raises its own TimeoutError, or asyncio's when the
                    # deadline passes between its probe and its pull request
                    continue
                for msg in msgs:
                    if stop is not None and stop.is_set():
                        self._run(msg.nak())
                        continue
                    envelope = EventEnvelope.model_validate_json(msg.data)
                    try:
                        bus.apply_event(self.db, consumer, envelope)
                    except Exception as exc:
                        log.exception("consumer %s failed on %s", consumer.name, envelope.event_id)
                        failure = bus.record_failure(self.db, consumer, envelope.event_id, exc)
                        if failure.attempts >= max_attempts:
                            self._run(msg.term())
                        else:
                            delay = (failure.next_attempt_at - datetime.now(UTC)).total_seconds()
                            self._run(msg.nak(delay=max(delay, 0.1)))
                        continue
                    self._run(msg.ack())
                    applied += 1
        return applied

    def close(self) -> None:
        if self._nc is not None:
            # close, not drain: a pull request left waiting would hold drain for its whole timeout;
            # anything fetched and not acknowledged is redelivered (at least once)
            self._run(self._nc.close())
            self._nc = None
        self._loop.close()
