"""Every query of the portal's table."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.services.portal.models import PortalPhone


def by_phone(session: Session, phone_tag: str) -> PortalPhone | None:
    return session.scalars(select(PortalPhone).where(PortalPhone.phone_tag == phone_tag)).first()


def of_user(session: Session, user_id: int) -> PortalPhone | None:
    return session.scalars(select(PortalPhone).where(PortalPhone.user_id == user_id)).first()


def add(session: Session, row: PortalPhone) -> None:
    session.add(row)
    session.flush()


def delete(session: Session, row: PortalPhone) -> None:
    session.delete(row)
    session.flush()
