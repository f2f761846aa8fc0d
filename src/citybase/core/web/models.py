from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, utcnow


class SpentFormToken(Base):
    """A form token (表单令牌) that has been sent once: what it made, so that the same form sent
    again shows that instead of making it twice. Only the hash of the token's nonce is kept."""

    __tablename__ = "web_spent_form_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    spent_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # where the first submission's result is shown (a console path); "" until it is known
    result: Mapped[str] = mapped_column(String(500), default="")
