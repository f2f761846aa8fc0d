"""The federation's background work: the bus consumer that turns a case's steps into messages
for the other side, the periodic roll-up of a district's figures, and the bridge — the process
(``citybase federation bridge``) that relays this side's outbox to the JetStream stream and
applies what the stream holds for this side.

The stream is one for every brain (``CITYBASE_FEDERATION__STREAM``), its configuration stated
here in full: limits retention (a message is kept for ``max_age_days`` whoever has read it, so a
side cut off for days still finds what was sent to it), file storage, old messages discarded
first, and a duplicate window (``Nats-Msg-Id`` = the message's id, so a relay repeated after a
crash is dropped by the server; the receiver drops it by its id too). Each side reads through
durable pull consumers of its own: a district one (its ``down`` subjects), the city one per
district (that district's ``up`` subjects), so a district that sends something the city cannot
take holds up no other.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from citybase.core.bus import service as bus
from citybase.core.bus.schemas import EventEnvelope
from citybase.core.bus.service import JobContext, job
from citybase.core.db.engine import Database
from citybase.core.settings import Settings
from citybase.hub.cases.schemas import CaseEvent
from citybase.hub.federation import service
from citybase.hub.federation.schemas import MESSAGES, SUBJECT_ROOT, subject_prefix

log = logging.getLogger(__name__)
RECORD_SECONDS = 15.0


@bus.consumer("hub.federation.cases", CaseEvent.topic)
def _on_case(session: Any, envelope: EventEnvelope) -> None:
    service.on_case_changed(session, CaseEvent.model_validate(envelope.payload))


@job("hub.federation.rollup", every=lambda s: s.federation.rollup_seconds)
def roll_up(ctx: JobContext) -> None:
    service.roll_up(ctx.session)


@dataclass(frozen=True)
class Durable:
    """One durable consumer of this side: the peer it reads, its name and its subjects."""

    peer_code: str
    name: str
    subjects: str


def stream_config(settings: Settings) -> Any:
    from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

    fed = settings.federation
    return StreamConfig(
        name=fed.stream,
        description="citybase: messages between the city's brain and the districts'",
        subjects=[f"{subject_prefix(root=fed.subject_root)}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=float(fed.max_age_days * 86400),
        duplicate_window=float(fed.duplicate_window_seconds),
        num_replicas=1,
    )


def durables(peers: list[tuple[str, str, str]], root: str = SUBJECT_ROOT) -> list[Durable]:
    """This side's durable consumers: on a district's deployment one for what the city sends it,
    on the city's one per district for what that district sends up."""
    prefix = subject_prefix(root=root)
    out = []
    for code, role, district in peers:
        if role == "city":
            out.append(Durable(code, f"district_{district}", f"{prefix}.{district}.down.>"))
        else:
            out.append(Durable(code, f"city_from_{district}", f"{prefix}.{district}.up.>"))
    return out


class Bridge:
    """Relays this side's outbox to the stream and applies what the stream holds for it; with a
    worker, also runs this deployment's event delivery and jobs in the same loop."""

    def __init__(self, db: Database, settings: Settings, worker: Any = None) -> None:
        self.db = db
        self.settings = settings
        self.worker = worker
        self.peers: list[tuple[str, str, str]] = []
        self._loop = asyncio.new_event_loop()
        self._nc: Any = None
        self._js: Any = None
        self._subs: dict[str, Any] = {}
        self._recorded: dict[str, tuple[int, float]] = {}

    def _run(self, coro: Any) -> Any:
        return self._loop.run_until_complete(coro)

    def configure(self) -> list[tuple[str, str, str]]:
        from citybase.hub.cases import service as cases

        with self.db.session_scope() as session:
            service.configure(session, self.settings.federation, cases.city_code(session))
            self.peers = service.peer_codes(session)
        return self.peers

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    def connect(self) -> None:
        import nats
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
        from nats.js.errors import BadRequestError, NotFoundError

        config = stream_config(self.settings)

        async def _connect() -> None:
            self._nc = await nats.connect(
                self.settings.federation.nats_url, connect_timeout=2, allow_reconnect=False,
            )  # fmt: skip
            self._js = self._nc.jetstream(timeout=5)
            try:
                await self._js.stream_info(config.name)
            except NotFoundError:
                await self._js.add_stream(config)
            else:
                try:  # keep the stated configuration, whoever created the stream
                    await self._js.update_stream(config)
                except BadRequestError:
                    log.warning("stream %s: its configuration could not be updated", config.name)
            for d in durables(self.peers, self.settings.federation.subject_root):
                self._subs[d.peer_code] = await self._js.pull_subscribe(
                    d.subjects, durable=d.name, stream=config.name,
                    config=ConsumerConfig(
                        durable_name=d.name, ack_policy=AckPolicy.EXPLICIT,
                        deliver_policy=DeliverPolicy.ALL, ack_wait=30, max_deliver=-1,
                        filter_subject=d.subjects,
                    ),
                )  # fmt: skip

        self._run(_connect())

    def relay(self, batch: int = 500) -> int:
        """Publish this side's waiting messages in the order they were queued; the first that
        fails stops the round (so that none overtakes an earlier one)."""
        with self.db.session_scope(readonly=True) as session:
            rows = service.unsent(session, batch)
        if not rows:
            return 0
        sent: list[int] = []
        root = self.settings.federation.subject_root

        async def _publish() -> None:
            import json

            for row_id, message_id, subject, payload in rows:
                wire = root + subject.removeprefix(SUBJECT_ROOT)
                await self._js.publish(wire, json.dumps(payload, ensure_ascii=False).encode(),
                                       headers={"Nats-Msg-Id": message_id})  # fmt: skip
                sent.append(row_id)

        try:
            self._run(_publish())
        finally:
            if sent:
                with self.db.session_scope() as session:
                    service.mark_sent(session, sent)
        return len(sent)

    def consume(self, batch: int = 200) -> int:
        """Apply what the stream holds for this side, each message in its own transaction."""
        import nats.errors

        applied = 0
        for code, sub in self._subs.items():
            try:
                msgs = self._run(sub.fetch(batch, timeout=0.3))
            except (TimeoutError, nats.errors.TimeoutError):
                msgs = []
            for msg in msgs:
                try:
                    message = MESSAGES.validate_json(msg.data)
                except ValidationError:
                    log.exception("unreadable message on %s from %s: dropped", msg.subject, code)
                    self._run(msg.term())
                    continue
                try:
                    with self.db.session_scope() as session:
                        service.receive(session, message, home=self.settings.home)
                except service.OutOfOrder as exc:
                    log.info("waiting for an earlier message: %s", exc)
                    self._run(msg.nak(delay=1))
                    continue
                except Exception:
                    log.exception("message %s could not be applied", message.message_id)
                    self._run(msg.nak(delay=5))
                    continue
                self._run(msg.ack())
                applied += 1
            info = self._run(sub.consumer_info())
            self._record_up(code, info.num_pending + info.num_ack_pending)
        return applied

    def _record_up(self, code: str, waiting_in: int) -> None:
        """Write the link's state when it changed, or every ``RECORD_SECONDS`` (so that an idle
        bridge does not write on every poll, and a stale ``checked_at`` says it has stopped)."""
        now = time.monotonic()
        seen = self._recorded.get(code)
        if seen is not None and seen[0] == waiting_in and now - seen[1] < RECORD_SECONDS:
            return
        with self.db.session_scope() as session:
            service.record_link(session, code, connected=True, waiting_in=waiting_in)
        self._recorded[code] = (waiting_in, now)

    def run_once(self) -> int:
        done = self.worker.run_once() if self.worker is not None else 0
        if not self.connected:
            self.connect()
        return done + self.relay() + self.consume()

    def run_until_idle(self, max_rounds: int = 100) -> int:
        total = 0
        for _ in range(max_rounds):
            done = self.run_once()
            total += done
            if not done:
                break
        return total

    def record_down(self, error: BaseException) -> None:
        try:
            with self.db.session_scope() as session:
                for code, _, _ in self.peers:
                    service.record_link(session, code, connected=False, error=str(error) or
                                        type(error).__name__)  # fmt: skip
        except Exception:
            log.exception("could not record the link's state")

    def run_forever(self, stop: threading.Event) -> None:
        delay = 1.0
        self.configure()
        while not stop.is_set():
            try:
                busy = self.run_once()
                delay = 1.0
            except Exception as exc:
                # the stream is out of reach: the outbox keeps what this side sends meanwhile
                log.warning("federation link down (%s); retrying in %.0f s", exc, delay)
                self.record_down(exc)
                self._drop()
                stop.wait(delay)
                delay = min(delay * 2, 30)
                continue
            if not busy:
                stop.wait(self.settings.federation.poll_seconds)
        self.close()

    def _drop(self) -> None:
        if self._nc is not None:
            try:
                self._run(self._nc.close())
            except Exception:
                log.debug("closing a broken connection failed", exc_info=True)
        self._nc, self._js, self._subs, self._recorded = None, None, {}, {}

    def close(self) -> None:
        self._drop()
        if self.worker is not None:
            self.worker.close()
        self._loop.close()
