"""The portal's one table: which mobile number signs in to which applicant account."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, TimestampMixin


class PortalPhone(IdMixin, TimestampMixin, Base):
    """A mobile number proven by a code sent to it, whose owner the base library's file names
    (实名核验): found by its keyed hash, kept sealed so that the owner's page can list the 12345
    requests he made with it."""

    __tablename__ = "portal_phones"

    user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    phone_tag: Mapped[str] = mapped_column(String(80), unique=True)
    phone_sealed: Mapped[str] = mapped_column(String(300))
