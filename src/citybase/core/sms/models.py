from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, utcnow


class SmsMessage(IdMixin, Base):
    """One text message (短信): stored when asked for, sent later by a stored job. With the
    ``log`` gateway the row is the message as delivered (platform admins read it on the
    console); once a real gateway has taken it, its text is erased and its number masked."""

    __tablename__ = "sms_messages"

    phone: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(String(500), default="")
    purpose: Mapped[str] = mapped_column(String(40), default="")
    gateway: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    sent_at: Mapped[datetime | None]
