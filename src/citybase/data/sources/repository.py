"""Every query on the register of sources and its conflicts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.data.sources.models import AuthoritativeSource, SourceConflict


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def sources(session: Session) -> list[AuthoritativeSource]:
    return list(
        session.scalars(select(AuthoritativeSource).order_by(AuthoritativeSource.data_kind))
    )


def source_by_kind(session: Session, data_kind: str) -> AuthoritativeSource | None:
    return session.scalars(
        select(AuthoritativeSource).where(AuthoritativeSource.data_kind == data_kind)
    ).first()


def conflict(session: Session, resource_code: str, data_kind: str) -> SourceConflict | None:
    return session.scalars(
        select(SourceConflict).where(
            SourceConflict.resource_code == resource_code, SourceConflict.data_kind == data_kind
        )
    ).first()


def conflict_by_id(session: Session, conflict_id: int) -> SourceConflict | None:
    return session.get(SourceConflict, conflict_id)


def conflicts(session: Session, status: str | None = None) -> list[SourceConflict]:
    query = select(SourceConflict).order_by(SourceConflict.detected_at.desc())
    if status:
        query = query.where(SourceConflict.status == status)
    return list(session.scalars(query))
