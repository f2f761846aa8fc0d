from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.hub.events.models import EventCategory


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def all_categories(session: Session) -> list[EventCategory]:
    return list(session.scalars(select(EventCategory).order_by(EventCategory.code)))


def by_code(session: Session, code: str) -> EventCategory | None:
    return session.scalar(select(EventCategory).where(EventCategory.code == code))
