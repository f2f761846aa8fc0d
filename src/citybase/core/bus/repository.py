"""Every query on the outbox, the handled-event marks, delivery failures and jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from citybase.core.bus.models import DeliveryFailure, HandledEvent, Job, OutboxEvent


def add_outbox(session: Session, row: dict[str, Any]) -> None:
    session.execute(insert(OutboxEvent), [row])


def undispatched(session: Session, limit: int) -> list[OutboxEvent]:
    return list(
        session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.dispatched_at.is_(None))
            .order_by(OutboxEvent.id)
            .limit(limit)
        )
    )


def mark_dispatched(session: Session, ids: list[int], when: datetime) -> None:
    if ids:
        session.execute(
            update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(dispatched_at=when)
        )


def handled_by(session: Session, event_ids: list[str]) -> set[tuple[str, str]]:
    if not event_ids:
        return set()
    rows = session.execute(
        select(HandledEvent.consumer, HandledEvent.event_id).where(
            HandledEvent.event_id.in_(event_ids)
        )
    )
    return {(c, e) for c, e in rows}


def is_handled(session: Session, consumer: str, event_id: str) -> bool:
    return (
        session.scalars(
            select(HandledEvent.id).where(
                HandledEvent.consumer == consumer, HandledEvent.event_id == event_id
            )
        ).first()
        is not None
    )


def mark_handled(session: Session, consumer: str, event_id: str, when: datetime) -> None:
    session.add(HandledEvent(consumer=consumer, event_id=event_id, handled_at=when))
    session.flush()


def failures(session: Session, event_ids: list[str]) -> dict[tuple[str, str], DeliveryFailure]:
    if not event_ids:
        return {}
    rows = session.scalars(select(DeliveryFailure).where(DeliveryFailure.event_id.in_(event_ids)))
    return {(f.consumer, f.event_id): f for f in rows}


def get_failure(session: Session, consumer: str, event_id: str) -> DeliveryFailure | None:
    return session.scalars(
        select(DeliveryFailure).where(
            DeliveryFailure.consumer == consumer, DeliveryFailure.event_id == event_id
        )
    ).first()


def clear_failure(session: Session, consumer: str, event_id: str) -> None:
    session.execute(
        delete(DeliveryFailure).where(
            DeliveryFailure.consumer == consumer, DeliveryFailure.event_id == event_id
        )
    )


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def outbox_counts(session: Session, max_attempts: int) -> dict[str, int]:
    pending = session.scalar(
        select(func.count()).select_from(OutboxEvent).where(OutboxEvent.dispatched_at.is_(None))
    )
    dispatched = session.scalar(
        select(func.count()).select_from(OutboxEvent).where(OutboxEvent.dispatched_at.is_not(None))
    )
    failing = session.scalar(
        select(func.count())
        .select_from(DeliveryFailure)
        .where(DeliveryFailure.attempts < max_attempts)
    )
    parked = session.scalar(
        select(func.count())
        .select_from(DeliveryFailure)
        .where(DeliveryFailure.attempts >= max_attempts)
    )
    return {
        "pending": pending or 0,
        "dispatched": dispatched or 0,
        "failing": failing or 0,
        "parked": parked or 0,
    }


# --- jobs --------------------------------------------------------------------------------------


def get_job_by_key(session: Session, key: str) -> Job | None:
    return session.scalars(select(Job).where(Job.key == key)).first()


def due_jobs(session: Session, now: datetime, limit: int) -> list[Job]:
    query = (
        select(Job)
        .where(
            Job.status.in_(("pending", "running")),
            Job.run_at <= now,
            (Job.locked_until.is_(None)) | (Job.locked_until < now),
        )
        .order_by(Job.run_at, Job.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def get_job(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def list_jobs(session: Session, limit: int = 100) -> list[Job]:
    return list(session.scalars(select(Job).order_by(Job.run_at).limit(limit)))


def list_failures(session: Session, limit: int = 100) -> list[DeliveryFailure]:
    return list(
        session.scalars(
            select(DeliveryFailure).order_by(DeliveryFailure.next_attempt_at.desc()).limit(limit)
        )
    )


def release_jobs(session: Session, worker_id: str, job_ids: list[int] | None = None) -> int:
    """Hand back jobs this worker claimed but did not run (it is stopping): due again at once for
    any worker. ``job_ids``: only these; None: every job it holds."""
    query = update(Job).where(Job.locked_by == worker_id, Job.status == "running")
    if job_ids is not None:
        query = query.where(Job.id.in_(job_ids))
    result = session.execute(query.values(status="pending", locked_by="", locked_until=None))
    return int(getattr(result, "rowcount", 0) or 0)


def job_counts(session: Session, now: datetime, late: datetime) -> dict[str, int]:
    """Failed jobs, and jobs due before ``late`` that no worker holds (overdue: nobody runs them)."""
    failed = session.scalar(select(func.count()).select_from(Job).where(Job.status == "failed"))
    overdue = session.scalar(
        select(func.count())
        .select_from(Job)
        .where(
            Job.status.in_(("pending", "running")),
            Job.run_at < late,
            (Job.locked_until.is_(None)) | (Job.locked_until < now),
        )
    )
    return {"failed": failed or 0, "overdue": overdue or 0}
