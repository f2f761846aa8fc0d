"""Every query on users, roles, API keys and console sessions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from citybase.core.identity.models import ApiKey, ConsoleSession, User, UserRole


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_user_by_username(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).first()


def list_users(
    session: Session, *, unit_ids: Iterable[int] | None = None, search: str = ""
) -> list[User]:
    query = select(User).order_by(User.username)
    if unit_ids is not None:
        query = query.where(User.unit_id.in_(list(unit_ids)))
    if search:
        query = query.where(User.username.icontains(search, autoescape=True)
                            | User.display_name.icontains(search, autoescape=True))  # fmt: skip
    return list(session.scalars(query))


def display_names(session: Session, usernames: Iterable[str]) -> dict[str, str]:
    wanted = set(usernames)
    if not wanted:
        return {}
    rows = session.execute(
        select(User.username, User.display_name).where(User.username.in_(wanted))
    )
    return {username: name for username, name in rows if name}


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def roles_of(session: Session, user_ids: Iterable[int]) -> dict[int, list[str]]:
    ids = list(user_ids)
    result: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        rows = session.execute(
            select(UserRole.user_id, UserRole.role)
            .where(UserRole.user_id.in_(ids))
            .order_by(UserRole.role)
        )
        for user_id, role in rows:
            result[user_id].append(role)
    return result


def set_roles(session: Session, user_id: int, roles: Iterable[str]) -> None:
    session.execute(delete(UserRole).where(UserRole.user_id == user_id))
    for role in sorted(set(roles)):
        session.add(UserRole(user_id=user_id, role=role))
    session.flush()


def api_key_with_user(session: Session, prefix: str) -> tuple[ApiKey, User] | None:
    """A key and its owner in one round trip: this runs on every API request."""
    row = session.execute(
        select(ApiKey, User).join(User, User.id == ApiKey.user_id).where(ApiKey.prefix == prefix)
    ).first()
    return None if row is None else (row[0], row[1])


def console_session_with_user(
    session: Session, token_hash: str
) -> tuple[ConsoleSession, User] | None:
    """A console session and its user in one round trip: this runs on every console request."""
    row = session.execute(
        select(ConsoleSession, User)
        .join(User, User.id == ConsoleSession.user_id)
        .where(ConsoleSession.token_hash == token_hash)
    ).first()
    return None if row is None else (row[0], row[1])


def get_api_key(session: Session, key_id: int) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def list_api_keys(session: Session, *, user_id: int | None = None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_at.desc())
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    return list(session.scalars(query))


def delete_console_session(session: Session, token_hash: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash))


def delete_expired_sessions(session: Session, now: datetime) -> int:
    result = session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
    return int(getattr(result, "rowcount", 0) or 0)


def delete_sessions_of(session: Session, user_id: int) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))
