"""Every query on open data's tables."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.data.opendata.models import OpenApplication


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def by_number(session: Session, number: str) -> OpenApplication | None:
    return session.scalars(select(OpenApplication).where(OpenApplication.number == number)).first()


def count_with_prefix(session: Session, prefix: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(OpenApplication)
            .where(OpenApplication.number.startswith(prefix))
        )
        or 0
    )


def applications(
    session: Session, *, unit_code: str | None, status: str | None, limit: int = 500
) -> list[OpenApplication]:
    query = select(OpenApplication)
    if unit_code is not None:
        query = query.where(OpenApplication.provider_unit_code == unit_code)
    if status:
        query = query.where(OpenApplication.status == status)
    return list(session.scalars(query.order_by(OpenApplication.id.desc()).limit(limit)))


def pending_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(OpenApplication.provider_unit_code, func.count())
        .where(OpenApplication.status == "pending")
        .group_by(OpenApplication.provider_unit_code)
    )
    return {unit: n for unit, n in rows}
