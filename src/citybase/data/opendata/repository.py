"""Every query on open data's tables."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.data.opendata.models import (
    HarvestedDataset,
    HarvestRun,
    HarvestSource,
    OpenApplication,
)


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


def harvested(session: Session, uri: str) -> HarvestedDataset | None:
    return session.scalars(
        select(HarvestedDataset).where(HarvestedDataset.dataset_uri == uri)
    ).first()


def harvested_by_code(session: Session, code: str) -> HarvestedDataset | None:
    return session.scalars(
        select(HarvestedDataset).where(HarvestedDataset.resource_code == code)
    ).first()


def harvest_sources(session: Session) -> list[HarvestSource]:
    return list(session.scalars(select(HarvestSource).order_by(HarvestSource.name)))


def harvest_source(session: Session, source_id: int) -> HarvestSource | None:
    return session.get(HarvestSource, source_id)


def harvest_source_named(session: Session, name: str) -> HarvestSource | None:
    return session.scalars(select(HarvestSource).where(HarvestSource.name == name)).first()


def harvest_runs(session: Session, *, unit_code: str | None, limit: int = 50) -> list[HarvestRun]:
    query = select(HarvestRun)
    if unit_code is not None:
        query = query.where(HarvestRun.unit_code == unit_code)
    return list(session.scalars(query.order_by(HarvestRun.id.desc()).limit(limit)))
