"""Notifications that are never lost: stored in the transaction of the change, delivered after
it commits, tried again with backoff when the subscriber fails, delivered by a notifier started
after the one that made them stopped — with the subscription's counts and status right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from citybase.core.db.engine import Database
from citybase.core.net import OutboundPolicy
from citybase.perception.context import deliveries, notify, service, subscriptions
from citybase.perception.context.jsonld import CORE_URL
from citybase.perception.context.models import ContextSubscription, PendingNotification

LOOPBACK = OutboundPolicy.parse("127.0.0.1")
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Endpoint:
    """An HTTP double for the subscriber: answers as told, keeps what it was sent."""

    def __init__(self, *answers: bool) -> None:
        self.answers = list(answers)  # True: takes it; False: fails (then always the last)
        self.got: list[dict[str, Any]] = []

    def __call__(self, uri: str, body: dict[str, Any], headers: dict[str, str], timeout: float,
                 outbound: OutboundPolicy) -> None:  # fmt: skip
        ok = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if not ok:
            raise RuntimeError("the endpoint answered 503")
        self.got.append(body)


def _notifier(db: Database, clock: Clock, attempts: int = 4) -> notify.Notifier:
    return notify.Notifier(db, outbound=LOOPBACK, attempts=attempts, retry_seconds=10,
                           clock=clock)  # fmt: skip


def _subscribe(db: Database) -> str:
    with db.session_scope() as session:
        return subscriptions.create(session, {
            "type": "Subscription", "entities": [{"type": "Building"}],
            "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
        }, [CORE_URL], outbound=LOOPBACK)  # fmt: skip


def _change(db: Database, n: int) -> None:
    with db.session_scope() as session:
        service.create(session, {"id": f"urn:ngsi-ld:Building:{n}", "type": "Building",
                                 "name": {"type": "Property", "value": f"B{n}"}}, [CORE_URL])  # fmt: skip


def _status(db: Database, sub_id: str) -> tuple[dict[str, Any], list[PendingNotification]]:
    with db.session_scope(readonly=True) as session:
        row = session.get(ContextSubscription, sub_id)
        assert row is not None
        shown = subscriptions.render(row, [CORE_URL])["notification"]
        kept = list(session.scalars(select(PendingNotification)))
        session.expunge_all()  # read after the transaction ends
        return shown, kept


@pytest.fixture
def stopped(monkeypatch: pytest.MonkeyPatch) -> list[list[deliveries.Due]]:
    """Changes commit while this process's notifier is gone before it delivers: what it was
    handed is kept here, never sent."""
    handed: list[list[deliveries.Due]] = []
    monkeypatch.setattr(notify.Notifier, "submit", lambda self, due: handed.append(due))
    return handed


def test_a_failed_notification_is_tried_again_with_backoff(
    fresh_db: Database, monkeypatch: pytest.MonkeyPatch, stopped: list[list[deliveries.Due]]
) -> None:
    clock = Clock()
    endpoint = Endpoint(False, True)
    monkeypatch.setattr(notify, "_post", endpoint)
    notifier = _notifier(fresh_db, clock)
    monkeypatch.setattr(notify, "_current", notifier)
    sub_id = _subscribe(fresh_db)
    _change(fresh_db, 1)
    [[due]] = stopped  # stored with the change, handed over after the commit
    _, kept = _status(fresh_db, sub_id)
    assert [row.id for row in kept] == [due.id]

    notifier.send(due)  # the first attempt, as the pool makes it: the subscriber fails
    notifier._write_outcomes()
    shown, kept = _status(fresh_db, sub_id)
    assert (shown["timesSent"], shown["timesFailed"], shown["status"]) == (1, 1, "failed")
    assert "lastFailure" in shown
    assert "lastSuccess" not in shown
    [row] = kept
    assert row.attempts == 1
    assert row.next_attempt_at == START + timedelta(seconds=10)
    assert "503" in row.last_error

    clock.now = START + timedelta(seconds=9)  # the wait is not over
    assert notifier.deliver_due(inline=True) == 0
    clock.now = START + timedelta(seconds=11)
    assert notifier.deliver_due(inline=True) == 1
    shown, kept = _status(fresh_db, sub_id)
    assert (shown["timesSent"], shown["timesFailed"], shown["status"]) == (2, 1, "ok")
    assert kept == []
    [body] = endpoint.got
    assert body["subscriptionId"] == sub_id
    assert body["notifiedAt"].startswith("2026-12-01T08:00:11")  # when it was sent
    assert [e["id"] for e in body["data"]] == ["urn:ngsi-ld:Building:1"]
    assert notifier.deliver_due(inline=True) == 0  # delivered once
    notifier.pool.shutdown()


def test_a_notification_is_given_up_after_its_attempts(
    fresh_db: Database, monkeypatch: pytest.MonkeyPatch, stopped: list[list[deliveries.Due]]
) -> None:
    clock = Clock()
    monkeypatch.setattr(notify, "_post", Endpoint(False))
    notifier = _notifier(fresh_db, clock, attempts=3)
    monkeypatch.setattr(notify, "_current", notifier)
    sub_id = _subscribe(fresh_db)
    _change(fresh_db, 1)
    clock.now += deliveries.LEASE + timedelta(seconds=1)  # nobody delivered it: anyone takes it
    waits = []
    for _ in range(3):
        assert notifier.deliver_due(inline=True) == 1
        _, kept = _status(fresh_db, sub_id)
        if kept and kept[0].given_up_at is None:
            waits.append(kept[0].next_attempt_at - clock.now)
            clock.now = kept[0].next_attempt_at
    assert waits == [timedelta(seconds=10), timedelta(seconds=20)]  # doubled
    shown, kept = _status(fresh_db, sub_id)
    (given_up,) = kept  # given up after the third, and kept for an operator
    assert (given_up.given_up_at, given_up.attempts) == (clock.now, 3)
    assert "503" in given_up.last_error
    assert (shown["timesSent"], shown["timesFailed"], shown["status"]) == (3, 3, "failed")
    clock.now += timedelta(days=1)
    assert notifier.deliver_due(inline=True) == 0  # never tried again by itself
    # the subscriber is back: the operator sends it again, and it is delivered once
    endpoint = Endpoint(True)
    monkeypatch.setattr(notify, "_post", endpoint)
    with fresh_db.session_scope() as session:
        assert deliveries.retry(session, clock.now, subscription_id="urn:elsewhere") == 0
        assert deliveries.retry(session, clock.now, subscription_id=sub_id) == 1
    assert notifier.deliver_due(inline=True) == 1
    assert [b["data"][0]["id"] for b in endpoint.got] == ["urn:ngsi-ld:Building:1"]
    _, kept = _status(fresh_db, sub_id)
    assert kept == []
    notifier.pool.shutdown()


def test_given_up_notifications_are_listed_sent_again_or_discarded_from_the_command_line(
    fresh_db: Database, monkeypatch: pytest.MonkeyPatch, stopped: list[list[deliveries.Due]]
) -> None:
    from typer.testing import CliRunner

    from citybase.cli import app as cli
    from citybase.core.ledger.models import LedgerEntry

    clock = Clock()
    monkeypatch.setattr(notify, "_post", Endpoint(False))
    notifier = _notifier(fresh_db, clock, attempts=1)
    monkeypatch.setattr(notify, "_current", notifier)
    sub_id = _subscribe(fresh_db)
    _change(fresh_db, 1)
    _change(fresh_db, 2)
    clock.now += deliveries.LEASE + timedelta(seconds=1)
    assert notifier.deliver_due(inline=True) == 2
    notifier.pool.shutdown()
    monkeypatch.setattr("citybase.core.runtime.open_database", lambda *a, **k: fresh_db)
    monkeypatch.setattr(fresh_db, "dispose", lambda: None)
    runner = CliRunner()
    listed = runner.invoke(cli, ["perception", "notifications", "list"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.count(sub_id) == 2
    assert "2 given up" in listed.output
    first, _second = [r.id for r in _status(fresh_db, sub_id)[1]]
    sent = runner.invoke(cli, ["perception", "notifications", "retry", "--id", first,
                               "--reason", "订阅方已恢复"])  # fmt: skip
    assert (sent.exit_code, "1 sent again" in sent.output) == (0, True), sent.output
    dropped = runner.invoke(cli, ["perception", "notifications", "discard",
                                  "--subscription", sub_id])  # fmt: skip
    assert "1 discarded" in dropped.output, dropped.output
    asked = runner.invoke(cli, ["perception", "notifications", "discard"], input="n\n")
    assert asked.exit_code == 1  # every subscription's: asked first, refused here
    _, kept = _status(fresh_db, sub_id)
    assert [(r.id, r.given_up_at, r.attempts) for r in kept] == [(first, None, 0)]
    with fresh_db.session_scope(readonly=True) as session:
        actions = session.scalars(
            select(LedgerEntry.action).where(LedgerEntry.action.like("perception.notification.%"))
        ).all()
    assert sorted(actions) == ["perception.notification.discard", "perception.notification.retry"]


def test_a_notification_left_by_a_stopped_process_is_delivered_after_a_restart(
    fresh_db: Database, monkeypatch: pytest.MonkeyPatch, stopped: list[list[deliveries.Due]]
) -> None:
    clock = Clock()
    endpoint = Endpoint(True)
    monkeypatch.setattr(notify, "_post", endpoint)
    before = _notifier(fresh_db, clock)
    monkeypatch.setattr(notify, "_current", before)
    sub_id = _subscribe(fresh_db)
    _change(fresh_db, 1)
    _change(fresh_db, 2)
    assert len(stopped) == 2  # committed, never delivered: the process stopped
    before.pool.shutdown()
    monkeypatch.setattr(notify, "_current", None)

    after = _notifier(fresh_db, clock)  # a new process
    assert after.deliver_due(inline=True) == 0  # still leased to the one that made them
    clock.now += deliveries.LEASE + timedelta(seconds=1)
    assert after.deliver_due(inline=True) == 2
    assert sorted(b["data"][0]["id"] for b in endpoint.got) == [
        "urn:ngsi-ld:Building:1", "urn:ngsi-ld:Building:2"]  # fmt: skip
    shown, kept = _status(fresh_db, sub_id)
    assert kept == []
    assert (shown["timesSent"], shown["timesFailed"], shown["status"]) == (2, 0, "ok")
    assert after.deliver_due(inline=True) == 0
    after.pool.shutdown()


def test_a_change_rolled_back_leaves_no_notification(
    fresh_db: Database, monkeypatch: pytest.MonkeyPatch, stopped: list[list[deliveries.Due]]
) -> None:
    notifier = _notifier(fresh_db, Clock())
    monkeypatch.setattr(notify, "_current", notifier)
    sub_id = _subscribe(fresh_db)

    def failing_request() -> None:
        with fresh_db.session_scope() as session:
            service.create(session, {"id": "urn:ngsi-ld:Building:9", "type": "Building"},
                           [CORE_URL])  # fmt: skip
            session.flush()
            raise RuntimeError("the request failed after the write")

    with pytest.raises(RuntimeError):
        failing_request()
    _, kept = _status(fresh_db, sub_id)
    assert kept == []
    assert stopped == []
    notifier.pool.shutdown()


def test_a_deleted_subscription_takes_its_notifications_with_it(
    fresh_db: Database, monkeypatch: pytest.MonkeyPatch, stopped: list[list[deliveries.Due]]
) -> None:
    clock = Clock()
    endpoint = Endpoint(True)
    monkeypatch.setattr(notify, "_post", endpoint)
    notifier = _notifier(fresh_db, clock)
    monkeypatch.setattr(notify, "_current", notifier)
    sub_id = _subscribe(fresh_db)
    _change(fresh_db, 1)
    with fresh_db.session_scope() as session:
        subscriptions.delete(session, sub_id)
    with fresh_db.session_scope(readonly=True) as session:
        assert deliveries.pending(session) == []
    clock.now += timedelta(hours=1)
    assert notifier.deliver_due(inline=True) == 0
    assert endpoint.got == []
    notifier.pool.shutdown()
