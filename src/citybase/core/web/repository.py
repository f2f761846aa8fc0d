from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citybase.core.web.models import SpentFormToken


def spent(session: Session, digest: str) -> SpentFormToken | None:
    return session.get(SpentFormToken, digest)


def spend(session: Session, digest: str, at: datetime) -> bool:
    """Record ``digest`` as spent; False when another submission recorded it first (the primary
    key makes a concurrent second insert wait for the first and then fail)."""
    try:
        with session.begin_nested():
            session.add(SpentFormToken(digest=digest, spent_at=at, result=""))
    except IntegrityError:
        return False
    return True


def set_result(session: Session, digest: str, result: str) -> None:
    row = session.get(SpentFormToken, digest)
    if row is not None:
        row.result = result
        session.flush()


def prune(session: Session, before: datetime) -> None:
    session.execute(delete(SpentFormToken).where(SpentFormToken.spent_at < before))
