"""Every query on the gradings table."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.data.grading.models import Grading


def get(session: Session, resource_code: str) -> Grading | None:
    return session.scalars(select(Grading).where(Grading.resource_code == resource_code)).first()


def add(session: Session, grading: Grading) -> None:
    session.add(grading)
    session.flush()


def undecided(session: Session) -> list[Grading]:
    return list(
        session.scalars(select(Grading).where(Grading.level.is_(None)).order_by(Grading.scanned_at))
    )
