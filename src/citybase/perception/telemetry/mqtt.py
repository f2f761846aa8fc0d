"""Readings from an MQTT broker, acknowledged only once stored.

The ingestor subscribes with QoS 1 on a persistent session (its own client id, clean start off,
a day's session expiry) and acknowledges messages by hand: a batch of messages is parsed,
checked and stored in one transaction, and only after that transaction commits is each message
acknowledged. If the process dies before, the broker still holds the unacknowledged messages for
the session and delivers them again on reconnect; readings are keyed by series and time, so one
stored before the crash is not stored twice. Several ingestors may share one subscription
(MQTT 5 ``$share/<group>/…``): the broker hands each message to one of them.

One bad message never stops the stream: a message that cannot be parsed, or whose readings are
refused, is counted (``citybase_readings_rejected_total{protocol="mqtt",reason}``), kept as a
dead letter with the reason, and acknowledged (delivering it again would not mend it). A batch
whose transaction fails is tried again message by message, so that one message the database
will not take is kept as a dead letter and the others are stored. When the failure is the
database's own (connection lost, a lock not had, a deadlock), or a dead letter cannot be written
either, nothing of the batch is acknowledged: the ingestor reconnects and the broker delivers it
again."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlparse

from citybase.core.db.engine import Database
from citybase.core.settings import Settings
from citybase.perception.rules import service as rules
from citybase.perception.telemetry import service
from citybase.perception.telemetry.protocols import (
    JsonPayload,
    Malformed,
    PayloadProtocol,
    UltraLight,
)
from citybase.perception.telemetry.schemas import ReadingIn

log = logging.getLogger(__name__)


@dataclass
class Message:
    mid: int
    qos: int
    topic: str
    payload: bytes


@dataclass
class DeadLetter:
    """A message that cannot be stored, with why (``kind``: the reason's short name)."""

    message: Message
    kind: str
    reason: str
    device_id: str | None


def transient(exc: BaseException) -> bool:
    """A failure of the database rather than of the messages (connection lost, a lock not had,
    a deadlock): the batch is tried again as it is, never kept as dead letters."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    return isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def protocols_for(settings: Settings) -> list[PayloadProtocol]:
    return [JsonPayload(settings.perception.json_topic), UltraLight(settings.perception.ul_topic)]


class Ingestor:
    """Consumes readings from the broker until ``stop``; ``store`` does one batch (a test can
    call it with messages of its own)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        protocols: list[PayloadProtocol] | None = None,
    ) -> None:
        self.db, self.settings = db, settings
        self.protocols = protocols or protocols_for(settings)
        self.inbox: queue.Queue[Message] = queue.Queue()
        self.stopping = threading.Event()
        self.stored = 0
        self.malformed = 0
        self.dead_letters = 0
        self.client: Any = None
        # set once the broker has granted every subscription of the current connection: from
        # then on what is published on the protocols' topics is kept for this session
        self.subscribed = threading.Event()

    # --- one batch ---

    def _parse(self, message: Message) -> list[ReadingIn]:
        for protocol in self.protocols:
            try:
                return protocol.parse(message.topic, message.payload)
            except Malformed as exc:
                if "not of the scheme" in str(exc):
                    continue
                raise
        raise Malformed(f"no protocol takes topic {message.topic[:200]}")

    def store(self, batch: list[Message]) -> int:
        """Parse, check and store a batch; returns the readings accepted. What cannot be stored
        is kept as a dead letter. Raises only if the database takes nothing, not even a dead
        letter (then nothing of the batch may be acknowledged)."""
        parsed: list[tuple[Message, list[ReadingIn]]] = []
        dead: list[DeadLetter] = []
        for message in batch:
            try:
                parsed.append((message, self._parse(message)))
            except Malformed as exc:
                dead.append(DeadLetter(message, exc.kind, f"{exc.kind}: {exc}", exc.device_id))
            except Exception as exc:  # a protocol's own failure is one message's, not the stream's
                dead.append(DeadLetter(message, "parse_error",
                                       f"parse_error: {type(exc).__name__}: {exc}", None))  # fmt: skip
        try:
            stored = self._store(parsed, dead)
        except Exception as exc:
            if transient(exc):  # the database away, locked or in a deadlock: try it all again
                raise
            if len(batch) > 1:
                log.exception("storing %d MQTT messages at once failed; one at a time",
                              len(batch))  # fmt: skip
                return sum(self.store([message]) for message in batch)
            if dead:  # not even its dead letter could be written
                raise
            stored = self._store_failed(parsed)
        self.stored += stored
        return stored

    def _store_failed(self, parsed: list[tuple[Message, list[ReadingIn]]]) -> int:
        """One message the database refused: kept as a dead letter if the database takes that
        (else the error goes up, and nothing is acknowledged)."""
        message, readings = parsed[0]
        log.exception("an MQTT message on %s could not be stored", message.topic)
        device_id = readings[0].device_id if readings else None
        return self._store([], [DeadLetter(message, "store_failed",
                                           "store_failed: the database refused its readings",
                                           device_id)])  # fmt: skip

    def _store(self, parsed: list[tuple[Message, list[ReadingIn]]], dead: list[DeadLetter]) -> int:
        readings: list[ReadingIn] = []
        owner: list[int] = []  # the message of each reading
        for n, (_, found) in enumerate(parsed):
            readings += found
            owner += [n] * len(found)
        refused: dict[int, list[str]] = {}
        stored = 0
        received = datetime.now(UTC)
        with self.db.session_scope() as session:  # gateways' messages may hold many readings:
            for start in range(0, len(readings), service.MAX_BATCH):  # a chunk at a time
                report, accepted = service.ingest(
                    session, readings[start : start + service.MAX_BATCH], protocol="mqtt"
                )
                rules.judge(session, accepted)
                stored += report.accepted
                for rejected in report.rejected:
                    refused.setdefault(owner[start + rejected.index], []).append(rejected.reason)
            for n, reasons in refused.items():
                message, found = parsed[n]
                reason = reasons[0] if len(reasons) == 1 else \
                    f"{len(reasons)} of {len(found)} readings refused: {'; '.join(reasons[:3])}"  # fmt: skip
                service.keep_dead_letter(session, message.topic, message.payload, reason,
                                         service.reason_kind(reasons[0]),
                                         device_id=found[0].device_id, received_at=received)  # fmt: skip
            for letter in dead:
                service.keep_dead_letter(session, letter.message.topic, letter.message.payload,
                                         letter.reason, letter.kind, device_id=letter.device_id,
                                         received_at=received)  # fmt: skip
        for letter in dead:  # counted once kept (ingest counts the refused readings itself)
            self.malformed += 1
            service.REJECTED[("mqtt", letter.kind)] += 1
            log.warning("MQTT message on %s kept as a dead letter: %s", letter.message.topic[:200],
                        letter.reason[:200])  # fmt: skip
        self.dead_letters += len(dead) + len(refused)
        return stored

    # --- the broker ---

    def topics(self) -> list[str]:
        """What the ingestor subscribes to: the protocols' topics, through the shared
        subscription of its group if one is set."""
        group = self.settings.perception.mqtt_share_group
        return [f"$share/{group}/{p.topic}" if group else p.topic for p in self.protocols]

    def _connect(self) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        url = urlparse(self.settings.perception.mqtt_url)
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.settings.perception.mqtt_client_id,
            protocol=mqtt.MQTTv5, manual_ack=True,
        )  # fmt: skip
        if url.username:
            client.username_pw_set(unquote(url.username),
                                   unquote(url.password) if url.password else None)  # fmt: skip

        pending: set[int] = set()

        def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
            self.subscribed.clear()
            if reason.is_failure:
                log.error("the MQTT broker refused the connection: %s", reason)
                return
            for topic in self.topics():
                pending.add(c.subscribe(topic, qos=1)[1])

        def on_subscribe(c: Any, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
            if any(reason.is_failure for reason in reasons):
                log.error("the MQTT broker refused a subscription: %s", reasons)
                return
            pending.discard(mid)
            if not pending:
                self.subscribed.set()

        def on_message(c: Any, userdata: Any, msg: Any) -> None:
            self.inbox.put(Message(msg.mid, msg.qos, msg.topic, msg.payload))

        client.on_connect = on_connect
        client.on_message = on_message
        client.on_subscribe = on_subscribe
        # MQTT 5: the session outlives the connection (a day), and the broker may have many
        # readings in flight to us at once — we acknowledge a whole batch after its commit
        connect = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        connect.SessionExpiryInterval = 86_400
        connect.ReceiveMaximum = 65_535
        # connected (and connected again after any loss) by paho's own loop, so that a broker
        # that is not up yet, or restarts, is waited for rather than ending the ingestor
        client.connect_async(url.hostname or "127.0.0.1", url.port or 1883, keepalive=30,
                             clean_start=False, properties=connect)  # fmt: skip
        client.loop_start()
        self.client = client

    def run(self) -> None:
        """Store what arrives, batch by batch, acknowledging each batch once committed."""
        self._connect()
        size = self.settings.perception.batch_size
        wait = self.settings.perception.batch_ms / 1000
        try:
            while not self.stopping.is_set():
                batch = self._take(size, wait)
                if not batch:
                    continue
                try:
                    self.store(batch)
                except Exception:
                    log.exception("storing %d MQTT messages failed; they stay unacknowledged",
                                  len(batch))  # fmt: skip
                    self._reconnect()
                    continue
                for message in batch:
                    if message.qos > 0:
                        self.client.ack(message.mid, message.qos)
        finally:
            self.client.loop_stop()
            self.client.disconnect()

    def _take(self, size: int, wait: float) -> list[Message]:
        try:
            batch = [self.inbox.get(timeout=wait)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + wait
        while len(batch) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(self.inbox.get(timeout=left))
            except queue.Empty:
                break
        return batch

    def _reconnect(self) -> None:
        """Drop the connection so that the broker delivers the unacknowledged again."""
        self.client.loop_stop()
        self.client.disconnect()
        while not self.inbox.empty():
            self.inbox.get_nowait()
        time.sleep(1)
        self._connect()

    def stop(self) -> None:
        self.stopping.set()


def serve_metrics(port: int, host: str = "127.0.0.1") -> None:
    """Serve this process's reading counters on ``http://host:port/metrics`` (an ingestor run
    apart from the web server has no /metrics of its own)."""
    from prometheus_client import start_http_server

    from citybase.core.web.metrics import Metrics

    metrics = Metrics()
    metrics.counter("citybase_readings_accepted", "Device readings stored, by protocol",
                    ["protocol"], lambda: {(p,): n for p, n in service.ACCEPTED.items()})  # fmt: skip
    metrics.counter("citybase_readings_rejected", "Device readings refused, by protocol and why",
                    ["protocol", "reason"],
                    lambda: {k: float(n) for k, n in service.REJECTED.items()})  # fmt: skip
    start_http_server(port, host, registry=metrics.registry)
