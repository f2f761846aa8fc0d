"""Every query on the quality tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from citybase.data.quality.models import Dispute, QualityRule, QualityRun


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def rules(session: Session, code: str, *, active_only: bool = True) -> list[QualityRule]:
    query = select(QualityRule).where(QualityRule.resource_code == code)
    if active_only:
        query = query.where(QualityRule.active.is_(True))
    return list(session.scalars(query.order_by(QualityRule.id)))


def rule(session: Session, rule_id: int) -> QualityRule | None:
    return session.get(QualityRule, rule_id)


def codes_with_rules(session: Session) -> list[str]:
    query = select(QualityRule.resource_code).where(QualityRule.active.is_(True)).distinct()
    return sorted(session.scalars(query))


def runs(session: Session, code: str, limit: int = 30) -> list[QualityRun]:
    query = (
        select(QualityRun)
        .where(QualityRun.resource_code == code)
        .order_by(QualityRun.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def last_run_times(session: Session) -> dict[str, datetime]:
    query = select(QualityRun.resource_code, func.max(QualityRun.run_at)).group_by(
        QualityRun.resource_code
    )
    return {code: at for code, at in session.execute(query)}


def dispute_by_number(session: Session, number: str) -> Dispute | None:
    return session.scalars(select(Dispute).where(Dispute.number == number)).first()


def count_disputes_with_prefix(session: Session, prefix: str) -> int:
    query = select(func.count()).select_from(Dispute).where(Dispute.number.startswith(prefix))
    return session.scalar(query) or 0


def disputes(
    session: Session, *, unit: str | None, status: str | None, resource: str | None = None
) -> list[Dispute]:
    query = select(Dispute)
    if unit is not None:
        query = query.where(
            or_(Dispute.provider_unit_code == unit, Dispute.consumer_unit_code == unit)
        )
    if status:
        query = query.where(Dispute.status == status)
    if resource:
        query = query.where(Dispute.resource_code == resource)
    return list(session.scalars(query.order_by(Dispute.id.desc()).limit(500)))


def overdue_unwarned(session: Session, now: datetime) -> list[Dispute]:
    query = select(Dispute).where(
        Dispute.status == "open", Dispute.deadline < now, Dispute.overdue_warned_at.is_(None)
    )
    return list(session.scalars(query))


def open_dispute_count(session: Session, code: str) -> int:
    query = (
        select(func.count())
        .select_from(Dispute)
        .where(Dispute.resource_code == code, Dispute.status == "open")
    )
    return session.scalar(query) or 0
