"""Every query on sharing's tables."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from citybase.data.sharing.models import ShareGrant, ShareRequest


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def request_by_number(session: Session, number: str) -> ShareRequest | None:
    return session.scalars(select(ShareRequest).where(ShareRequest.number == number)).first()


def count_with_prefix(session: Session, prefix: str) -> int:
    query = (
        select(func.count()).select_from(ShareRequest).where(ShareRequest.number.startswith(prefix))
    )
    return session.scalar(query) or 0


def requests(session: Session, *, unit_code: str | None, status: str | None) -> list[ShareRequest]:
    """Requests made by or made to the unit (every request when no unit is given)."""
    query = select(ShareRequest)
    if unit_code is not None:
        query = query.where(
            or_(
                ShareRequest.consumer_unit_code == unit_code,
                ShareRequest.provider_unit_code == unit_code,
            )
        )
    if status:
        query = query.where(ShareRequest.status == status)
    return list(session.scalars(query.order_by(ShareRequest.id.desc()).limit(500)))


def grant(session: Session, grant_id: int) -> ShareGrant | None:
    return session.get(ShareGrant, grant_id)


def grants(
    session: Session, *, unit_code: str | None, resource_code: str | None = None
) -> list[ShareGrant]:
    query = select(ShareGrant)
    if unit_code is not None:
        query = query.where(
            or_(
                ShareGrant.consumer_unit_code == unit_code,
                ShareGrant.provider_unit_code == unit_code,
            )
        )
    if resource_code is not None:
        query = query.where(ShareGrant.resource_code == resource_code)
    return list(session.scalars(query.order_by(ShareGrant.id.desc()).limit(500)))


def request_numbers(session: Session, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(ShareRequest.id, ShareRequest.number).where(ShareRequest.id.in_(ids))
    )
    return {i: n for i, n in rows}
