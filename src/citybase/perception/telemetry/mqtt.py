"""Readings from an MQTT broker, acknowledged only once stored.

The ingestor subscribes with QoS 1 on a persistent session (its own client id, clean session
off) and acknowledges messages by hand: a batch of messages is parsed, checked and stored in one
transaction, and only after that transaction commits is each message acknowledged. If the
process dies before, the broker still holds the unacknowledged messages for the session and
delivers them again on reconnect; readings are keyed by series and time, so one stored before the
crash is not stored twice. Malformed messages and refused readings are counted and acknowledged
(delivering them again would not mend them)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

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
        raise Malformed(f"no protocol takes topic {message.topic}")

    def store(self, batch: list[Message]) -> int:
        """Parse, check and store a batch in one transaction; returns the readings accepted.
        Raises if the transaction fails (then nothing of the batch is acknowledged)."""
        readings: list[ReadingIn] = []
        for message in batch:
            try:
                readings += self._parse(message)
            except Malformed as exc:
                self.malformed += 1
                service.REJECTED[("mqtt", "malformed")] += 1
                log.warning("malformed MQTT message on %s: %s", message.topic, exc)
        if not readings:
            return 0
        stored = 0
        with self.db.session_scope() as session:  # gateways' messages may hold many readings:
            for start in range(0, len(readings), service.MAX_BATCH):  # a chunk at a time
                report, accepted = service.ingest(
                    session, readings[start : start + service.MAX_BATCH], protocol="mqtt"
                )
                rules.judge(session, accepted)
                stored += report.accepted
                for rejected in report.rejected:
                    log.info("MQTT reading refused (%s): %s", rejected.device_id, rejected.reason)
        self.stored += stored
        return stored

    # --- the broker ---

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
            client.username_pw_set(url.username, url.password)

        pending: set[int] = set()

        def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
            self.subscribed.clear()
            for protocol in self.protocols:
                pending.add(c.subscribe(protocol.topic, qos=1)[1])

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
        client.connect(url.hostname or "127.0.0.1", url.port or 1883, keepalive=30,
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
