"""NGSI-LD notifications due, kept as rows until the subscriber has them.

A notification is written (``keep``) in the same transaction as the change that makes it due,
already leased to the process that made it, which delivers it once the transaction commits. A
delivery that fails is tried again after a wait that doubles each time (``backoff``), up to a
number of attempts; a process that stops before delivering leaves the row behind, and any process
claims it (``claim_due``) once its lease has run out — after a restart too. ``finish`` writes how
each attempt went: the row goes once delivered. One that fails its last allowed attempt is kept,
given up (``given_up_at``), with its last error, so that an operator sees what a subscriber did not
get (``given_up``) and sends it again once the subscriber is back (``retry``) or lets it go
(``discard``): ``citybase perception notifications``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, delete, or_, select, update
from sqlalchemy.orm import Session

from citybase.perception.context.models import PendingNotification

LEASE = timedelta(seconds=30)  # how long a process holds a notification it is delivering
MAX_WAIT = timedelta(hours=1)  # the longest wait between two attempts


@dataclass(frozen=True, slots=True)
class Due:
    """One notification to deliver: which subscription, where, what, and how often tried."""

    id: str
    subscription_id: str
    endpoint: dict[str, Any]
    body: dict[str, Any]
    headers: dict[str, str]
    attempts: int = 0


def backoff(attempts: int, first: float) -> timedelta:
    """The wait after the ``attempts``-th failure: ``first`` seconds, doubled each time."""
    return min(timedelta(seconds=first * 2 ** max(attempts - 1, 0)), MAX_WAIT)


def keep(
    session: Session, subscription_id: str, endpoint: dict[str, Any], body: dict[str, Any],
    headers: dict[str, str], now: datetime,
) -> Due:  # fmt: skip
    """Store a notification due now, leased to this process (which delivers it after commit)."""
    due = Due(str(uuid.uuid4()), subscription_id, endpoint, body, headers)
    session.add(PendingNotification(
        id=due.id, subscription_id=subscription_id, endpoint=endpoint, body=body,
        headers=headers, attempts=0, next_attempt_at=now, locked_until=now + LEASE,
        last_error="", created_at=now,
    ))  # fmt: skip
    return due


def _free(now: datetime) -> Any:
    """Due rows no process holds, given up ones aside."""
    return and_(
        PendingNotification.given_up_at.is_(None),
        or_(PendingNotification.locked_until.is_(None), PendingNotification.locked_until < now),
    )


def any_due(session: Session, now: datetime) -> bool:
    """Whether a notification is due by ``now`` that no process holds: read in a reader's
    transaction, so that looking every second never waits for another process's writer."""
    free = _free(now)
    found = session.scalar(
        select(PendingNotification.id)
        .where(PendingNotification.next_attempt_at <= now, free)
        .limit(1)
    )
    return found is not None


def claim_due(session: Session, now: datetime, limit: int = 50) -> list[Due]:
    """Take for this process the notifications due by ``now`` that no process holds."""
    free = _free(now)
    rows = session.scalars(
        select(PendingNotification)
        .where(PendingNotification.next_attempt_at <= now, free)
        .order_by(PendingNotification.next_attempt_at)
        .limit(limit)
    ).all()
    taken: list[Due] = []
    for row in rows:
        claimed = session.execute(
            update(PendingNotification)
            .where(PendingNotification.id == row.id, free)
            .values(locked_until=now + LEASE)
            .execution_options(synchronize_session=False)
        )
        if cast(CursorResult[Any], claimed).rowcount:
            taken.append(Due(row.id, row.subscription_id, dict(row.endpoint), dict(row.body),
                             dict(row.headers), row.attempts))  # fmt: skip
    return taken


def finish(
    session: Session, due: Due, error: str, now: datetime, *, attempts: int, first_wait: float
) -> bool:
    """Write how an attempt went (``error`` empty: delivered). The row goes once delivered; after
    its last allowed attempt it is kept given up; otherwise it waits for the next. True: given up."""
    tried = due.attempts + 1
    if not error:
        session.execute(delete(PendingNotification).where(PendingNotification.id == due.id))
        return False
    last = tried >= attempts
    session.execute(
        update(PendingNotification)
        .where(PendingNotification.id == due.id)
        .values(
            attempts=tried,
            next_attempt_at=now + backoff(tried, first_wait),
            locked_until=None,
            last_error=error[:500],
            given_up_at=now if last else None,
        )
        .execution_options(synchronize_session=False)
    )
    return last


def pending(
    session: Session, subscription_id: str | None = None, *, given_up: bool | None = None
) -> list[PendingNotification]:
    """The notifications kept (of one subscription; only those given up, or only those still
    tried), oldest first."""
    stmt = select(PendingNotification).order_by(PendingNotification.created_at)
    if subscription_id is not None:
        stmt = stmt.where(PendingNotification.subscription_id == subscription_id)
    if given_up is not None:
        column = PendingNotification.given_up_at
        stmt = stmt.where(column.is_not(None) if given_up else column.is_(None))
    return list(session.scalars(stmt))


def _chosen(subscription_id: str | None, ids: list[str] | None) -> Any:
    chosen: Any = PendingNotification.given_up_at.is_not(None)
    if subscription_id is not None:
        chosen = and_(chosen, PendingNotification.subscription_id == subscription_id)
    if ids:
        chosen = and_(chosen, PendingNotification.id.in_(ids))
    return chosen


def retry(
    session: Session, now: datetime, *, subscription_id: str | None = None,
    ids: list[str] | None = None,
) -> int:  # fmt: skip
    """Send the given-up notifications chosen (all, one subscription's, or by id) again from now,
    with their attempts counted afresh; how many."""
    done = session.execute(
        update(PendingNotification)
        .where(_chosen(subscription_id, ids))
        .values(given_up_at=None, attempts=0, next_attempt_at=now, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(cast(CursorResult[Any], done).rowcount or 0)


def discard(
    session: Session, *, subscription_id: str | None = None, ids: list[str] | None = None
) -> int:
    """Let the given-up notifications chosen go for good; how many."""
    done = session.execute(
        delete(PendingNotification)
        .where(_chosen(subscription_id, ids))
        .execution_options(synchronize_session=False)
    )
    return int(cast(CursorResult[Any], done).rowcount or 0)
