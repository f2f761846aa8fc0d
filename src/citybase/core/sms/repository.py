"""Every query of the SMS table."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core.sms.models import SmsMessage


def add(session: Session, row: SmsMessage) -> None:
    session.add(row)
    session.flush()


def get(session: Session, message_id: int) -> SmsMessage | None:
    return session.get(SmsMessage, message_id)


def latest(session: Session, *, limit: int = 200, phone: str = "") -> Sequence[SmsMessage]:
    stmt = select(SmsMessage).order_by(SmsMessage.id.desc()).limit(limit)
    if phone:
        stmt = stmt.where(SmsMessage.phone == phone)
    return session.scalars(stmt).all()
