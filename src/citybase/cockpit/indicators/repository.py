from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.cockpit.indicators.models import Actual, Indicator


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def delete(session: Session, obj: object) -> None:
    session.delete(obj)
    session.flush()


def get(session: Session, indicator_id: int) -> Indicator | None:
    return session.get(Indicator, indicator_id)


def of_plan(session: Session, plan_id: int) -> list[Indicator]:
    return list(
        session.scalars(
            select(Indicator)
            .where(Indicator.plan_id == plan_id)
            .order_by(Indicator.sort_order, Indicator.id)
        )
    )


def of_plans(session: Session, plan_ids: Iterable[int]) -> list[Indicator]:
    return list(
        session.scalars(
            select(Indicator)
            .where(Indicator.plan_id.in_(list(plan_ids)))
            .order_by(Indicator.plan_id, Indicator.sort_order, Indicator.id)
        )
    )


def with_measure(session: Session) -> list[Indicator]:
    return list(session.scalars(select(Indicator).where(Indicator.measure != "")))


def actual(session: Session, actual_id: int) -> Actual | None:
    return session.get(Actual, actual_id)


def actuals(session: Session, indicator_ids: Iterable[int]) -> list[Actual]:
    return list(
        session.scalars(
            select(Actual)
            .where(Actual.indicator_id.in_(list(indicator_ids)))
            .order_by(Actual.indicator_id, Actual.period, Actual.version)
        )
    )


def versions(session: Session, indicator_id: int, period: str) -> list[Actual]:
    return list(
        session.scalars(
            select(Actual)
            .where(Actual.indicator_id == indicator_id, Actual.period == period)
            .order_by(Actual.version)
        )
    )


def count_actuals(session: Session, indicator_id: int) -> int:
    found = session.scalar(
        select(func.count()).select_from(Actual).where(Actual.indicator_id == indicator_id)
    )
    return found or 0


def pending(session: Session) -> list[Actual]:
    return list(
        session.scalars(
            select(Actual).where(Actual.status == "pending").order_by(Actual.reported_at)
        )
    )


def by_ids(session: Session, indicator_ids: Iterable[int]) -> list[Indicator]:
    ids = list(indicator_ids)
    if not ids:
        return []
    return list(session.scalars(select(Indicator).where(Indicator.id.in_(ids))))


def points(session: Session, indicator_ids: Iterable[int]) -> list[Any]:
    """What progress needs of every live value (approved or pending), without the rest of
    each row: id, indicator, period, version, value, status, measured."""
    query = (
        select(Actual.id, Actual.indicator_id, Actual.period, Actual.version, Actual.value,
               Actual.status, Actual.measured)
        .where(Actual.indicator_id.in_(list(indicator_ids)),
               Actual.status.in_(("approved", "pending")))
        .order_by(Actual.indicator_id, Actual.period, Actual.version)
    )  # fmt: skip
    return list(session.execute(query))


def by_actual_ids(session: Session, actual_ids: Iterable[int]) -> list[Actual]:
    ids = list(actual_ids)
    if not ids:
        return []
    return list(session.scalars(select(Actual).where(Actual.id.in_(ids))))
