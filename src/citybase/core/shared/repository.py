from __future__ import annotations

from typing import Any

from sqlalchemy import case, delete, select
from sqlalchemy.orm import Session

from citybase.core.shared.models import SharedKey, SharedValue


def _insert(session: Session, model: Any = SharedKey) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model)


def add(session: Session, key: str, seconds: float, now: float) -> tuple[int, float]:
    """Count one under ``key`` in its window (a new window of ``seconds`` when none is open):
    the count after and when the window ends. One statement, so that two processes counting at
    once both count."""
    expired = SharedKey.expires_at <= now
    stmt = (
        _insert(session)
        .values(key=key, count=1, expires_at=now + seconds)
        .on_conflict_do_update(
            index_elements=[SharedKey.key],
            set_={
                "count": case((expired, 1), else_=SharedKey.count + 1),
                "expires_at": case((expired, now + seconds), else_=SharedKey.expires_at),
            },
        )
        .returning(SharedKey.count, SharedKey.expires_at)
    )
    count, ends = session.execute(stmt).one()
    return int(count), float(ends)


def claim(session: Session, key: str, seconds: float, now: float) -> bool:
    """Take ``key`` for ``seconds``: True for the first taker, False while someone holds it."""
    stmt = (
        _insert(session)
        .values(key=key, count=1, expires_at=now + seconds)
        .on_conflict_do_update(
            index_elements=[SharedKey.key],
            set_={"count": 1, "expires_at": now + seconds},
            where=SharedKey.expires_at <= now,
        )
        .returning(SharedKey.key)
    )
    return session.execute(stmt).first() is not None


def read(session: Session, key: str, now: float) -> tuple[int, float]:
    found = session.execute(
        select(SharedKey.count, SharedKey.expires_at).where(
            SharedKey.key == key, SharedKey.expires_at > now
        )
    ).first()
    return (0, 0.0) if found is None else (int(found[0]), float(found[1]))


def put(session: Session, key: str, value: str, seconds: float, now: float) -> None:
    """Keep ``value`` under ``key`` for ``seconds`` (replacing what was there)."""
    stmt = (
        _insert(session, SharedValue)
        .values(key=key, value=value, expires_at=now + seconds)
        .on_conflict_do_update(
            index_elements=[SharedValue.key], set_={"value": value, "expires_at": now + seconds}
        )
    )
    session.execute(stmt)


def get(session: Session, key: str, now: float) -> str | None:
    return session.execute(
        select(SharedValue.value).where(SharedValue.key == key, SharedValue.expires_at > now)
    ).scalar_one_or_none()


def remove(session: Session, key: str) -> None:
    session.execute(delete(SharedKey).where(SharedKey.key == key))
    session.execute(delete(SharedValue).where(SharedValue.key == key))


def remove_all(session: Session) -> None:
    session.execute(delete(SharedKey))
    session.execute(delete(SharedValue))


def prune(session: Session, now: float) -> None:
    session.execute(delete(SharedKey).where(SharedKey.expires_at <= now))
    session.execute(delete(SharedValue).where(SharedValue.expires_at <= now))
