from __future__ import annotations

from fastapi import APIRouter

from citybase.core.web.deps import DbSession
from citybase.hub.cases.auth import CentreReader
from citybase.hub.federation import service
from citybase.hub.federation.schemas import DisagreementRead, LinkRead, MessageRead, PeerStatus

router = APIRouter(prefix="/api/v1/hub/federation", tags=["city brain"])


@router.get("/peers")
def peers(session: DbSession, principal: CentreReader) -> list[PeerStatus]:
    """Each link with the other side: reached or not, what waits each way, the last message each
    way and its lag, and (on the city's deployment) the district's rolled-up figures."""
    return service.status(session)


@router.get("/links")
def links(session: DbSession, principal: CentreReader, peer: str = "") -> list[LinkRead]:
    """Cases known on both sides (newest first, at most 500): both numbers and the state the
    other side last said its case is in."""
    return service.links(session, peer[:20] or None)


@router.get("/disagreements")
def disagreements(
    session: DbSession, principal: CentreReader, peer: str = ""
) -> list[DisagreementRead]:
    """Cases whose two sides disagree (a step one side took could not be taken on the other, and
    their states still differ), newest first: for a person to settle by a step on either side."""
    return service.disagreements(session, peer[:20] or None)


@router.get("/messages")
def messages(session: DbSession, principal: CentreReader, peer: str = "") -> list[MessageRead]:
    """The last 100 messages sent and received, with what was done with each."""
    return service.messages(session, peer[:20] or None)
