"""Notifications of NGSI-LD subscriptions, over HTTP and MQTT, with the standard's payload.

Every change to an entity is noted in its transaction (``record``); as the transaction commits,
the changed entities — as they now are — are matched against the subscriptions (type, id or
pattern, watched attributes, ``q``, geo-query; throttling; paused and expired ones skipped), and
each match, rendered in the subscription's own terms and form, is stored as a notification due
(``deliveries``) in that same transaction. Once it commits, this process's notifier delivers them
on a small pool so that one slow receiver does not hold up the others. It also sends the periodic
notifications of subscriptions with a ``timeInterval``. How each delivery went is written back to
the subscription (timesSent, timesFailed, lastSuccess, lastFailure …); a failed one is tried
again with backoff, up to ``perception.notification_attempts``, and one left behind by a process
that stopped is delivered by any notifier once its lease has run out.

Several web processes each notify the changes they made; a periodic round is claimed by one.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlparse

from sqlalchemy import CursorResult, event, or_, select, update
from sqlalchemy.orm import Session

from citybase.core.db.engine import Database, after_commit, ends_work
from citybase.core.net import OutboundPolicy, post, resolve
from citybase.core.shared.service import SharedStore
from citybase.perception.context import deliveries, entity_types, geo, jsonld, service
from citybase.perception.context import query as query_language
from citybase.perception.context.attributes import PAYLOAD, default, instances, pack
from citybase.perception.context.models import (
    ContextEntity,
    ContextSubscription,
    EntityState,
    type_list,
)
from citybase.perception.context.subscriptions import Compiled, compile_row

log = logging.getLogger(__name__)
JSON_LD = "application/ld+json"
RELOAD_SECONDS = 2.0  # subscriptions changed by another process are seen within this
OUTCOMES_EVERY = 1.0  # how notifications went is written to the subscriptions this often
RETRY_EVERY = 1.0  # notifications due again (or left behind by a stopped process) looked for


@dataclass(frozen=True, slots=True)
class Change:
    """An entity as a committed change left it, and which attributes the change touched."""

    id: str
    type: str
    attrs: dict[str, Any]
    changed: frozenset[str]
    created_at: datetime
    modified_at: datetime
    deleted: bool = False
    unit: str = ""  # the entity's owning unit
    # what happened, as the subscriptions' notificationTrigger names it → the attributes it
    # happened to
    events: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # what the attributes the change touched held before it (all of them, for a deletion)
    previous: Mapping[str, Any] = field(default_factory=dict)
    types: list[str] | None = None  # every type of an entity of several

    def merged(self, later: Change) -> Change:
        """This change and a later one to the same entity, as one: the entity as the later left
        it, everything that happened to it, what it held before the first."""
        events = {k: self.events.get(k, frozenset()) | later.events.get(k, frozenset())
                  for k in {*self.events, *later.events}}  # fmt: skip
        return Change(later.id, later.type, later.attrs, self.changed | later.changed,
                      self.created_at, later.modified_at, unit=later.unit, events=events,
                      previous={**later.previous, **self.previous},
                      types=later.types)  # fmt: skip

    def entity(self) -> ContextEntity:
        return ContextEntity(id=self.id, type=self.type, types=self.types, attrs=self.attrs,
                             unit=self.unit, created_at=self.created_at,
                             modified_at=self.modified_at)  # fmt: skip


NULL = "urn:ngsi-ld:null"
# a deleted attribute of each kind, as NGSI-LD null in its own member (§5.8.6)
NULLS: dict[str, Any] = {"LanguageProperty": {"@none": NULL}, "ListProperty": [NULL],
                         "ListRelationship": [{"object": NULL}]}  # fmt: skip


def _previous(kind: str) -> str:
    """The member showing an attribute's former value: previousValue, previousObject …"""
    key = PAYLOAD.get(kind, "value")
    return "previous" + key[0].upper() + key[1:]


def _null(
    old: Any, kind: str, when: datetime, show_changes: bool, sys_attrs: bool
) -> dict[str, Any]:
    """A deleted attribute (or instance) as NGSI-LD null in its kind's member (§5.8.6)."""
    shown: dict[str, Any] = {"type": kind, PAYLOAD.get(kind, "value"): NULLS.get(kind, NULL)}
    if isinstance(old, dict) and old.get("datasetId"):
        shown["datasetId"] = old["datasetId"]
    if show_changes and isinstance(old, dict):
        shown[_previous(kind)] = old.get(PAYLOAD.get(kind, "value"))
    if sys_attrs:
        if isinstance(old, dict):
            shown.update({k: old[k] for k in ("createdAt", "modifiedAt") if k in old})
        shown["deletedAt"] = service.stamp(when)
    return shown


def _shown(
    change: Change, show_changes: bool = False, sys_attrs: bool = False,
    watched: Collection[str] | None = None, attributes_deleted: bool = False,
) -> ContextEntity:  # fmt: skip
    """The entity a change left, its deleted attributes — and deleted instances of attributes
    that keep others — shown as NGSI-LD null in their kind's member (§5.8.6); with
    ``show_changes``, each attribute changed with its former value (previousValue,
    previousObject, previousLanguageMap …) — of a deleted entity, all of them; with
    ``sys_attrs``, a deleted attribute with when it was deleted. A deleted entity told to a
    subscription for ``attributes_deleted`` shows the attributes it watches (all, with
    ``watched`` None) as deleted."""
    entity = change.entity()
    deleted: set[str] = set()
    partly: set[str] = set()
    if change.deleted and (show_changes or attributes_deleted):
        deleted = set(change.previous)
        if attributes_deleted and not show_changes and watched is not None:
            deleted &= set(watched)
    elif not change.deleted:
        gone = change.events.get("attributeDeleted", frozenset())
        deleted = set(gone - entity.attrs.keys())
        partly = set(gone & entity.attrs.keys())
    if not deleted and not partly and not show_changes:
        return entity
    attrs = dict(entity.attrs)
    for iri in sorted(deleted):
        old = default(change.previous.get(iri))
        kind = str(old.get("type", "Property")) if isinstance(old, dict) else "Property"
        if iri == service.SCOPE:
            continue
        attrs[iri] = _null(old, kind, change.modified_at, show_changes, sys_attrs)
    for iri in sorted(partly):  # instances deleted, others left
        left = instances(attrs[iri])
        kept = {a.get("datasetId") for a in left}
        gone_ones = [a for a in instances(change.previous.get(iri))
                     if isinstance(a, dict) and a.get("datasetId") not in kept]  # fmt: skip
        attrs[iri] = pack(left + [_null(a, str(a.get("type", "Property")), change.modified_at,
                                        show_changes, sys_attrs) for a in gone_ones])  # fmt: skip
    if show_changes:
        for iri in change.changed - deleted - partly:
            old, new = default(change.previous.get(iri)), attrs.get(iri)
            if not isinstance(old, dict) or not isinstance(new, dict):
                continue  # new, or of several datasets
            key = PAYLOAD.get(str(new.get("type", "Property")), "value")
            if old.get(key) != new.get(key):
                attrs[iri] = {**new, _previous(str(new.get("type", "Property"))): old.get(key)}
    entity.attrs = attrs
    return entity


_current: Notifier | None = None


def _noted(session: Session) -> dict[str, Change] | None:
    """The changes this transaction has noted so far (None: no subscription listens), handed to
    the notifier once it commits."""
    if _current is None or not _current.listening():
        return None
    changes: dict[str, Change] | None = session.info.get("citybase_ngsi_changes")
    if changes is None:
        changes = session.info["citybase_ngsi_changes"] = {}
    return changes


def events(
    written: Collection[str], before: Collection[str] | None, removed: Collection[str] = ()
) -> dict[str, frozenset[str]]:
    """What a write did, by the names of NGSI-LD's notification triggers: a new entity
    (``before`` None) is entityCreated, its attributes attributeCreated; on an existing one the
    attributes written are attributeCreated or attributeUpdated by whether it had them, those
    removed attributeDeleted, and any of these is entityUpdated."""
    written, removed = frozenset(written), frozenset(removed)
    if before is None:
        return {"entityCreated": written, "attributeCreated": written}
    had = frozenset(before)
    out = {"attributeCreated": written - had, "attributeUpdated": written & had,
           "attributeDeleted": removed}  # fmt: skip
    out = {k: v for k, v in out.items() if v}
    if out:
        out["entityUpdated"] = written | removed
    return out


def record(
    session: Session, entity: ContextEntity | EntityState, written: Collection[str],
    before: Collection[str] | None, removed: Collection[str] = (), dropped: Collection[str] = (),
) -> None:  # fmt: skip
    """Note that ``entity`` changed: these attributes written (``before``: those it had, None
    for a new entity), those removed, and those ``dropped`` of some of their instances (an
    attributeDeleted of the instances); it is notified after the commit, told what happened
    (``events``). Nothing is worked out while no subscription listens."""
    changes = _noted(session)
    if changes is None:
        return
    changed = frozenset(written) | frozenset(removed) | frozenset(dropped)
    held = before if isinstance(before, Mapping) else {}
    change = Change(  # the attributes are not copied: changes replace, never mutate
        id=entity.id, type=entity.type, attrs=entity.attrs, changed=changed,
        created_at=entity.created_at, modified_at=entity.modified_at, unit=entity.unit,
        events=events(frozenset(written) - frozenset(dropped), before,
                      frozenset(removed) | frozenset(dropped)),
        previous={k: held[k] for k in changed if k in held}, types=entity.types,
    )  # fmt: skip
    earlier = changes.get(entity.id)
    changes[entity.id] = earlier.merged(change) if earlier is not None else change


def record_deletion(session: Session, entity: ContextEntity) -> None:
    """Note that ``entity`` is deleted; subscriptions that ask for it hear of it after the
    commit."""
    changes = _noted(session)
    if changes is None:
        return
    changes[entity.id] = Change(id=entity.id, type=entity.type, attrs={}, changed=frozenset(),
                                created_at=entity.created_at, modified_at=datetime.now(UTC),
                                deleted=True,
                                events={"entityDeleted": frozenset(),
                                        "attributeDeleted": frozenset(entity.attrs)},
                                previous=entity.attrs, types=entity.types)  # fmt: skip


def listening() -> bool:
    """Whether a change might concern a subscription (so must be noted whole)."""
    return _current is not None and _current.listening()


@event.listens_for(Session, "before_commit")
def _keep_due(session: Session) -> None:
    """The notifications this transaction's changes make due, stored in it; handed to the
    notifier once it commits."""
    changes = session.info.pop("citybase_ngsi_changes", None)
    notifier = _current
    if not changes or notifier is None:
        return
    due = notifier.due(session, list(changes.values()))
    if due:
        after_commit(session, lambda: notifier.submit(due))


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    if not ends_work(session):
        return  # a savepoint inside the work rolled back: what came before it still stands
    session.info.pop("citybase_ngsi_changes", None)


def subscriptions_changed() -> None:
    if _current is not None:
        _current.invalidate()


def settle(sub_id: str) -> None:
    """Before a subscription is read: its notifications under way end and are written down."""
    if _current is not None:
        _current.settle(sub_id)


# --- the notifier -------------------------------------------------------------------------------


class Notifier:
    def __init__(self, db: Database, *, timeout: float = 5.0, workers: int = 4,
                 outbound: OutboundPolicy = OutboundPolicy(),
                 scope: service.ReadScope = service.EVERYONE,
                 shared: SharedStore | None = None, attempts: int = 6,
                 retry_seconds: float = 5.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:  # fmt: skip
        """``outbound``: which addresses outside the public internet may be notified;
        ``scope``: what a subscription of one unit may hear of (its ``types``, and ``units``
        None for every unit's entities or an empty set for its own unit's only); ``attempts``
        to deliver a notification, the first wait ``retry_seconds`` after a failure (doubled
        after each further one); ``clock``: now."""
        self.db = db
        self.attempts = attempts
        self.retry_seconds = retry_seconds
        self.clock = clock
        self.retried_at = 0.0
        self.loading = threading.Lock()
        # deliveries done, for their rows: (the notification, its error or "", when)
        self.finished: queue.SimpleQueue[tuple[deliveries.Due, str, datetime]] = \
            queue.SimpleQueue()  # fmt: skip
        self.shared = shared
        self.outbound = outbound
        self.scope = scope
        self.timeout = timeout
        self.queue: queue.SimpleQueue[list[deliveries.Due] | None] = queue.SimpleQueue()
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ngsi-notify")
        self.compiled: dict[str, Compiled] = {}
        self.loaded_at = 0.0
        self.stale = True
        # (subscription, when, None: sent | "": received | the error: failed)
        self.outcomes: queue.SimpleQueue[tuple[str, datetime, str | None]] = queue.SimpleQueue()
        self.written_at = 0.0
        self.thread: threading.Thread | None = None
        self.mqtt: dict[tuple[str, int], Any] = {}
        self.mqtt_lock = threading.Lock()
        self.in_flight: dict[str, int] = {}
        self.flight = threading.Condition()
        self.outcomes_lock = threading.Lock()

    # lifecycle
    def start(self) -> Notifier:
        global _current
        _current = self
        self.thread = threading.Thread(target=self.run, name="ngsi-notifier", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        global _current
        if _current is self:
            _current = None
        self.queue.put(None)
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.pool.shutdown(wait=True)
        self._write_outcomes()
        for client in self.mqtt.values():
            client.loop_stop()
            client.disconnect()

    def submit(self, due: list[deliveries.Due]) -> None:
        """Deliver these notifications, stored and committed, leased to this process."""
        self.queue.put(due)

    def invalidate(self) -> None:
        self.stale = True

    def listening(self) -> bool:
        """False only when it is known that no subscription could want a change (the list is
        fresh and empty): then changes are not even noted."""
        fresh = not self.stale and time.monotonic() - self.loaded_at <= RELOAD_SECONDS
        return bool(self.compiled) or not fresh

    def run(self) -> None:
        while True:
            try:
                batch = self.queue.get(timeout=0.5)
            except queue.Empty:
                batch = []
            if batch is None:
                return
            more: list[deliveries.Due] = list(batch)
            while True:  # whatever else is waiting goes in the same round
                try:
                    extra = self.queue.get_nowait()
                except queue.Empty:
                    break
                if extra is None:
                    self.queue.put(None)
                    break
                more.extend(extra)
            try:
                for due in more:
                    self.flying(due.subscription_id, 1)
                    self.pool.submit(self.send, due)
                self.on_clock()
                if time.monotonic() - self.retried_at >= RETRY_EVERY:
                    self.retried_at = time.monotonic()
                    self.deliver_due()
                if time.monotonic() - self.written_at >= OUTCOMES_EVERY:
                    self._write_outcomes()  # in a batch: not one more writer per notification
            except Exception:
                log.exception("NGSI-LD notifier round failed")

    # matching
    def subscriptions(self) -> list[Compiled]:
        with self.loading:  # the notifier's thread, and each committing one
            return self._subscriptions()

    def _subscriptions(self) -> list[Compiled]:
        if self.stale or time.monotonic() - self.loaded_at > RELOAD_SECONDS:
            self.stale = False
            fresh: dict[str, Compiled] = {}
            with self.db.session_scope(readonly=True) as session:
                for row in session.scalars(select(ContextSubscription)):
                    try:
                        compiled = compile_row(row)
                    except Exception:
                        log.exception("subscription %s cannot be matched", row.id)
                        continue
                    before = self.compiled.get(row.id)
                    if before is not None:
                        compiled.last_sent = max(compiled.last_sent, before.last_sent)
                    fresh[row.id] = compiled
            self.compiled = fresh
            self.loaded_at = time.monotonic()
        return list(self.compiled.values())

    def due(self, session: Session, changes: list[Change]) -> list[deliveries.Due]:
        """The notifications these changes make due, stored in the transaction that made them."""
        latest: dict[str, Change] = {}
        for change in changes:  # the last state of each entity, all that happened to it
            before = latest.get(change.id)
            latest[change.id] = change if before is None or change.deleted or before.deleted \
                else before.merged(change)  # fmt: skip
        now = self.clock()
        by_type: dict[str, list[Compiled]] = {}
        any_type: list[Compiled] = []
        for sub in self.subscriptions():  # looked up by the entity types they select
            if sub.time_interval or not sub.live(now):
                continue
            kinds = {kind for kind, _, _ in sub.selectors}
            for kind in kinds:
                by_type.setdefault(kind, []).append(sub)
            if not kinds:
                any_type.append(sub)
        found: dict[str, list[Change]] = {}
        subs: dict[str, Compiled] = {}
        for c in latest.values():
            held = c.types or [c.type]
            chosen = {s.id: s for k in held for s in by_type.get(k, ())} | \
                {s.id: s for s in any_type}  # fmt: skip
            for sub in chosen.values():
                if not self.hears(sub, c.unit, held):
                    continue
                if sub.wants(c.id, set(held), c.changed, c.deleted, c.events) and \
                        (c.deleted or _meets(sub, c.entity())):  # fmt: skip
                    found.setdefault(sub.id, []).append(c)
                    subs[sub.id] = sub
        kept: list[deliveries.Due] = []
        for sub_id, hits in found.items():
            sub = subs[sub_id]
            clock = time.time()
            if sub.throttling and clock - sub.last_sent < sub.throttling:
                continue
            if sub.throttling and not self._throttle(sub):
                continue  # another process notified within the window
            sub.last_sent = clock
            gone = {c.id: c.modified_at for c in hits if c.deleted}
            told = "entityDeleted" not in sub.triggers  # a deleted entity: for its attributes
            shown = [_shown(c, sub.show_changes, sub.sys_attrs, sub.watched, told) for c in hits]
            body, headers = payload(sub, shown, gone)
            kept.append(deliveries.keep(session, sub.id, dict(sub.endpoint), body, headers, now))
        return kept

    def on_clock(self) -> None:
        """Periodic notifications: every entity the subscription selects, each timeInterval."""
        now = datetime.now(UTC)
        rounds = [s for s in self.subscriptions() if s.time_interval and s.live(now)
                  and time.time() - s.last_sent >= s.time_interval]  # fmt: skip
        for sub in rounds:
            sub.last_sent = time.time()
            if not self._claim(sub, now):
                continue  # another process sent this round
            with self.db.session_scope(readonly=True) as session:
                stmt = select(ContextEntity)
                kinds = {kind for kind, _, _ in sub.selectors}
                if kinds:
                    stmt = stmt.where(entity_types.of_types(kinds))
                rows = [r for r in session.scalars(stmt.order_by(ContextEntity.id))
                        if self.hears(sub, r.unit, type_list(r)) and
                        sub.wants(r.id, set(type_list(r)), set(r.attrs)) and _meets(sub, r)]  # fmt: skip
                for r in rows:
                    session.expunge(r)
            if rows:
                body, headers = payload(sub, rows)
                with self.db.session_scope() as session:
                    due = deliveries.keep(session, sub.id, dict(sub.endpoint), body, headers,
                                          self.clock())  # fmt: skip
                self.flying(sub.id, 1)
                self.pool.submit(self.send, due)

    def hears(self, sub: Compiled, unit: str, type_iri: str | list[str]) -> bool:
        """Whether a subscription may be told of an entity: what its unit may read."""
        if self.scope.units is None:
            return True
        return service.ReadScope(frozenset({sub.unit}), self.scope.types).sees(unit, type_iri)

    def _throttle(self, sub: Compiled) -> bool:
        """Take a throttled subscription's window for this process (True), or learn that another
        process took it (False). A store that does not answer lets the notification go."""
        if self.shared is None:
            return True
        try:
            return self.shared.claim(f"ngsi.throttle:{sub.id}", sub.throttling)
        except Exception:
            log.exception("the shared store did not answer; notifying %s anyway", sub.id)
            return True

    def _claim(self, sub: Compiled, now: datetime) -> bool:
        """Take this round of a periodic subscription for this process: of several processes
        (web workers, the worker) only the one whose update finds the last notification a whole
        interval old sends it."""
        cutoff = now - timedelta(seconds=sub.time_interval)
        with self.db.session_scope() as session:
            claimed = session.execute(
                update(ContextSubscription)
                .where(ContextSubscription.id == sub.id,
                       or_(ContextSubscription.last_notification.is_(None),
                           ContextSubscription.last_notification <= cutoff))
                .values(last_notification=now)
            )  # fmt: skip
            return bool(cast(CursorResult[Any], claimed).rowcount)

    # delivery
    def flying(self, sub_id: str, step: int) -> None:
        """Count a subscription's deliveries under way (``step`` +1 when handed to the pool,
        -1 once its outcome is queued)."""
        with self.flight:
            left = self.in_flight.get(sub_id, 0) + step
            if left > 0:
                self.in_flight[sub_id] = left
            else:
                self.in_flight.pop(sub_id, None)
                self.flight.notify_all()

    def settle(self, sub_id: str, wait: float = 0.5) -> None:
        """Let a subscription's deliveries under way end (for at most ``wait`` seconds: a
        receiver may be slow to answer) and write what was sent and how it went, so that one
        read just after a notification arrived counts it."""
        with self.flight:
            self.flight.wait_for(lambda: sub_id not in self.in_flight, timeout=wait)
        self._write_outcomes()

    def deliver_due(self, now: datetime | None = None, *, inline: bool = False) -> int:
        """Claim the stored notifications due by ``now`` that no process holds — failed ones
        whose wait is over, those a stopped process left — and deliver them (on the pool, or
        here with ``inline``, their outcomes written before it returns). How many were taken.

        A reader looks first: claiming takes a writer's transaction, which on SQLite waits for
        any other writer (a long one would hold up every round), and almost always finds
        nothing."""
        now = now or self.clock()
        with self.db.session_scope(readonly=True) as session:
            if not deliveries.any_due(session, now):
                return 0
        with self.db.session_scope() as session:
            taken = deliveries.claim_due(session, now)
        for due in taken:
            self.flying(due.subscription_id, 1)
            if inline:
                self.send(due)
            else:
                self.pool.submit(self.send, due)
        if inline and taken:
            self._write_outcomes()
        return len(taken)

    def send(self, due: deliveries.Due) -> None:
        """One attempt at one notification; its outcome is queued for the subscription and for
        the notification's row."""
        sent_at = self.clock()
        self.outcomes.put((due.subscription_id, sent_at, None))  # sent: counted at once
        error = ""
        try:
            body = {**due.body, "notifiedAt": _zulu(sent_at)}
            uri = str(due.endpoint["uri"])
            if uri.startswith("mqtt"):
                self._publish(due.endpoint, uri, body, due.headers)
            else:
                _post(uri, body, due.headers, self.timeout, self.outbound)
        except Exception as exc:  # the receiver's failure is the subscription's, not ours
            error = f"{type(exc).__name__}: {exc}"[:500]
        finally:
            moment = self.clock()
            self.outcomes.put((due.subscription_id, moment, error))
            self.finished.put((due, error, moment))
            self.flying(due.subscription_id, -1)

    def _publish(self, endpoint: Mapping[str, Any], uri: str, body: dict[str, Any],
                 headers: dict[str, str]) -> None:  # fmt: skip
        try:
            import paho.mqtt.client as mqtt
            from paho.mqtt.enums import CallbackAPIVersion
        except ImportError:  # pragma: no cover - the [mqtt] extra is missing
            raise RuntimeError("MQTT notifications need the [mqtt] extra (paho-mqtt)") from None
        parsed = urlparse(uri)
        host, port = parsed.hostname or "", parsed.port or 1883
        topic = parsed.path.lstrip("/")
        info = {i["key"]: i["value"] for i in endpoint.get("notifierInfo", [])}
        qos = int(info.get("MQTT-QoS", "0"))
        with self.mqtt_lock:
            client = self.mqtt.get((host, port))
            if client is None:
                client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                     client_id=f"citybase-notify-{uuid.uuid4().hex[:8]}")  # fmt: skip
                if parsed.username:
                    client.username_pw_set(parsed.username, parsed.password)
                # to an address just checked, not to a name that could resolve anew
                _, address = resolve(host, port, self.outbound)[0]
                client.connect(str(address), port)
                client.loop_start()
                self.mqtt[(host, port)] = client
        message = json.dumps({"metadata": headers, "body": body}, ensure_ascii=False)
        sent = client.publish(topic, message, qos=qos)
        sent.wait_for_publish(timeout=self.timeout)
        if not sent.is_published():
            raise RuntimeError(f"MQTT publish to {topic} not acknowledged")

    def _write_outcomes(self) -> None:
        with self.outcomes_lock:  # the notifier's thread, or a reader settling a subscription
            self._write_outcomes_now()

    def _write_outcomes_now(self) -> None:
        self.written_at = time.monotonic()
        outcomes: list[tuple[str, datetime, str | None]] = []
        while True:
            try:
                outcomes.append(self.outcomes.get_nowait())
            except queue.Empty:
                break
        done: list[tuple[deliveries.Due, str, datetime]] = []
        while True:
            try:
                done.append(self.finished.get_nowait())
            except queue.Empty:
                break
        if not outcomes and not done:
            return
        try:
            with self.db.session_scope() as session:
                for due, failure, moment in done:
                    if deliveries.finish(session, due, failure, moment, attempts=self.attempts,
                                         first_wait=self.retry_seconds):  # fmt: skip
                        log.warning("notification %s of %s given up after %d attempts: %s",
                                    due.id, due.subscription_id, self.attempts, failure)  # fmt: skip
                for sub_id, moment, error in outcomes:
                    row = session.get(ContextSubscription, sub_id)
                    if row is None:
                        continue
                    if error is None:  # a notification sent
                        row.times_sent += 1
                        row.last_notification = moment
                    elif error:
                        row.times_failed += 1
                        row.last_failure = moment
                        row.last_error = error
                    else:
                        row.last_success = moment
        except Exception:
            log.exception("could not record how notifications went")


def _meets(sub: Compiled, entity: ContextEntity) -> bool:
    if sub.q is not None and not query_language.holds(sub.q, entity.attrs):
        return False
    if sub.geo is not None:
        iri, relation, low, high, shape_ = sub.geo
        return geo.geo_matches(entity, iri, relation, low, high, shape_)
    return True


def payload(
    sub: Compiled, entities: list[ContextEntity], gone: dict[str, datetime] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The notification (ETSI GS CIM 009 §5.3.1: id, type, subscriptionId, notifiedAt, data) in
    the subscription's terms and form, and the headers that go with it. A deleted entity is
    its id, its type and when it was deleted (deletedAt)."""
    data = []
    context = sub.notify_context or sub.context
    for e in entities:
        if sub.datasets is not None:
            e = _of_datasets(e, sub.datasets)
        if gone and e.id in gone:
            told = sub.show_changes or "entityDeleted" not in sub.triggers
            shown = service.render_entity(e, context, form=sub.form, sys_attrs=sub.sys_attrs,
                                          attrs=None if told else set())  # fmt: skip
            shown["deletedAt"] = _zulu(gone[e.id])
        else:
            shown = service.render_entity(e, context, form=sub.form, sys_attrs=sub.sys_attrs,
                                          attrs=sub.attributes)  # fmt: skip
        if sub.sys_attrs and sub.form != "normalized":
            shown.setdefault("createdAt", service.stamp(e.created_at))
            shown.setdefault("modifiedAt", service.stamp(e.modified_at))
        if sub.pick is not None or sub.omit:
            shown = {k: v for k, v in shown.items() if k == "deletedAt" or
                     ((sub.pick is None or k in sub.pick) and k not in sub.omit)}  # fmt: skip
        data.append(shown)
    body: dict[str, Any] = {
        "id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}", "type": "Notification",
        "subscriptionId": sub.id,
        "notifiedAt": _zulu(datetime.now(UTC)),
        "data": data,
    }  # fmt: skip
    user = [c for c in context if c != jsonld.CORE_URL]
    headers = {i["key"]: i["value"] for i in sub.endpoint.get("receiverInfo", [])}
    if sub.endpoint.get("accept") == JSON_LD:
        body["@context"] = user[0] if len(user) == 1 else (context if user else jsonld.CORE_URL)
        for item in data:  # each entity a JSON-LD document of its own too
            item["@context"] = body["@context"]
        headers["Content-Type"] = JSON_LD
    else:
        link = user[0] if user and isinstance(user[0], str) else jsonld.CORE_URL
        headers["Content-Type"] = "application/json"
        headers["Link"] = f'<{link}>; rel="http://www.w3.org/ns/json-ld#context"; type="{JSON_LD}"'
    return body, headers


def _of_datasets(entity: ContextEntity, datasets: frozenset[str]) -> ContextEntity:
    """The entity with only the attribute instances of these datasetIds (``@none``: the
    default instance)."""
    attrs = {}
    for iri, attr in entity.attrs.items():
        kept = [a for a in instances(attr) if a.get("datasetId", "@none") in datasets]
        if kept:
            attrs[iri] = pack(kept)
    return ContextEntity(id=entity.id, type=entity.type, types=entity.types, attrs=attrs,
                         unit=entity.unit,
                         created_at=entity.created_at, modified_at=entity.modified_at)  # fmt: skip


def _zulu(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _post(uri: str, body: dict[str, Any], headers: dict[str, str], timeout: float,
          outbound: OutboundPolicy) -> None:  # fmt: skip
    """POST to the subscriber's endpoint, connecting only to addresses the policy allows."""
    status = post(uri, json.dumps(body, ensure_ascii=False).encode(), headers, outbound, timeout)
    if not 200 <= status < 300:
        raise RuntimeError(f"the endpoint answered {status}")
