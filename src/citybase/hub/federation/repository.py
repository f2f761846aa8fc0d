"""Every query of the federation's tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.hub.federation.models import FederationLink, FederationMessage, FederationPeer


def add(session: Session, row: Any) -> None:
    session.add(row)
    session.flush()


def peers(session: Session) -> list[FederationPeer]:
    return list(session.scalars(select(FederationPeer).order_by(FederationPeer.code)))


def has_peers(session: Session) -> bool:
    return session.scalar(select(FederationPeer.id).limit(1)) is not None


def peer(session: Session, code: str) -> FederationPeer | None:
    return session.scalar(select(FederationPeer).where(FederationPeer.code == code))


def peer_of_district(session: Session, district_code: str) -> FederationPeer | None:
    return session.scalar(
        select(FederationPeer).where(FederationPeer.district_code == district_code)
    )


def city_peer(session: Session) -> FederationPeer | None:
    """On a district's deployment, the city (None elsewhere)."""
    return session.scalar(select(FederationPeer).where(FederationPeer.role == "city"))


def message(session: Session, direction: str, message_id: str) -> FederationMessage | None:
    return session.scalar(
        select(FederationMessage).where(
            FederationMessage.direction == direction, FederationMessage.message_id == message_id
        )
    )


def unsent(session: Session, limit: int) -> list[FederationMessage]:
    """This side's messages not yet in the stream, in the order they were queued."""
    return list(
        session.scalars(
            select(FederationMessage)
            .where(FederationMessage.direction == "out", FederationMessage.sent_at.is_(None))
            .order_by(FederationMessage.id)
            .limit(limit)
        )
    )


def by_ids(session: Session, ids: list[int]) -> list[FederationMessage]:
    return list(
        session.scalars(
            select(FederationMessage)
            .where(FederationMessage.id.in_(ids))
            .order_by(FederationMessage.id)
        )
    )


def waiting_out(session: Session) -> dict[str, tuple[int, datetime | None]]:
    """Per peer: how many of this side's messages wait to be sent, and the oldest's time."""
    rows = session.execute(
        select(
            FederationMessage.peer_code,
            func.count(),
            func.min(FederationMessage.created_at),
        )
        .where(FederationMessage.direction == "out", FederationMessage.sent_at.is_(None))
        .group_by(FederationMessage.peer_code)
    )
    return {code: (n, oldest) for code, n, oldest in rows}


def link_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(FederationLink.peer_code, func.count()).group_by(FederationLink.peer_code)
    )
    return {code: n for code, n in rows}


def link_of_case(session: Session, case_number: str) -> FederationLink | None:
    return session.scalar(select(FederationLink).where(FederationLink.case_number == case_number))


def link_for(session: Session, peer_code: str, peer_number: str) -> FederationLink | None:
    return session.scalar(
        select(FederationLink).where(
            FederationLink.peer_code == peer_code, FederationLink.peer_number == peer_number
        )
    )


def links(session: Session, peer_code: str | None = None, limit: int = 500) -> list[FederationLink]:
    query = select(FederationLink).order_by(FederationLink.id.desc()).limit(limit)
    if peer_code:
        query = query.where(FederationLink.peer_code == peer_code)
    return list(session.scalars(query))


def messages(
    session: Session, peer_code: str | None = None, limit: int = 100
) -> list[FederationMessage]:
    query = select(FederationMessage).order_by(FederationMessage.id.desc()).limit(limit)
    if peer_code:
        query = query.where(FederationMessage.peer_code == peer_code)
    return list(session.scalars(query))


def apart(session: Session, peer_code: str | None = None, limit: int = 500
          ) -> list[FederationLink]:  # fmt: skip
    """Links whose two sides were last seen to disagree, the longest apart first."""
    query = select(FederationLink).where(FederationLink.apart_since.is_not(None))
    if peer_code:
        query = query.where(FederationLink.peer_code == peer_code)
    return list(session.scalars(query.order_by(FederationLink.apart_since).limit(limit)))
