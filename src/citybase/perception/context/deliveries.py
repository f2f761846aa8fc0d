"""NGSI-LD notifications due, kept as rows until the subscriber has them.

A notification is written (``keep``) in the same transaction as the change that makes it due,
already leased to the process that made it, which delivers it once the transaction commits. A
delivery that fails is tried again after a wait that doubles each time (``backoff``), up to a
number of attempts; a process that stops before delivering leaves the row behind, and any process
claims it (``claim_due``) once its lease has run out — after a restart too. ``finish`` writes how
each attempt went: the row goes once delivered or given up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, or_, select, update
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


def any_due(session: Session, now: datetime) -> bool:
    """Whether a notification is due by ``now`` that no process holds: read in a reader's
    transaction, so that looking every second never waits for another process's writer."""
    free = or_(PendingNotification.locked_until.is_(None), PendingNotification.locked_until < now)
    found = session.scalar(
        select(PendingNotification.id)
        .where(PendingNotification.next_attempt_at <= now, free)
        .limit(1)
    )
    return found is not None


def claim_due(session: Session, now: datetime, limit: int = 50) -> list[Due]:
    """Take for this process the notifications due by ``now`` that no process holds."""
    free = or_(PendingNotification.locked_until.is_(None), PendingNotification.locked_until < now)
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
    """Write how an attempt went (``error`` empty: delivered). The row goes once delivered or
    after its last allowed attempt; otherwise it waits for the next. True: given up."""
    tried = due.attempts + 1
    if not error or tried >= attempts:
        session.execute(delete(PendingNotification).where(PendingNotification.id == due.id))
        return bool(error)
    session.execute(
        update(PendingNotification)
        .where(PendingNotification.id == due.id)
        .values(
            attempts=tried,
            next_attempt_at=now + backoff(tried, first_wait),
            locked_until=None,
            last_error=error[:500],
        )
        .execution_options(synchronize_session=False)
    )
    return False


def pending(session: Session, subscription_id: str | None = None) -> list[PendingNotification]:
    """The notifications still due (of one subscription), oldest first."""
    stmt = select(PendingNotification).order_by(PendingNotification.created_at)
    if subscription_id is not None:
        stmt = stmt.where(PendingNotification.subscription_id == subscription_id)
    return list(session.scalars(stmt))
