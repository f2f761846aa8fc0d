from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.db.engine import Database
from citybase.core.settings import FederationSettings
from citybase.hub.federation import service
from citybase.hub.federation.schemas import MESSAGES
from tests.hub.cases import factories as case_factories

CITY, DISTRICT = "350100", "350102"


def deployment(db: Database, role: str) -> None:
    """The demo city's register, taxonomy, people and two catalog lines, and the link: the city
    with Gulou (350102) running its own brain, or Gulou's own deployment."""
    with db.session_scope() as session:
        case_factories.city(session)
        settings = (
            FederationSettings(role="city", districts=[DISTRICT])
            if role == "city"
            else FederationSettings(role="district", district_code=DISTRICT)
        )
        service.configure(session, settings, CITY)


@contextmanager
def scope(db: Database) -> Iterator[Session]:
    with db.session_scope() as session:
        yield session


def settle(db: Database) -> None:
    """Deliver the deployment's committed events to its consumers (as its worker does)."""
    while bus.dispatch_in_process(db):
        pass


def wire(src: Database, dst: Database) -> list[str]:
    """What the bridge does, without the stream: send what waits on ``src``, apply it on ``dst``;
    returns the outcomes."""
    settle(src)
    with scope(src) as session:
        rows = service.unsent(session)
        service.mark_sent(session, [r[0] for r in rows])
    outcomes = []
    for _, _, _, payload in rows:
        with scope(dst) as session:
            outcomes.append(service.receive(session, MESSAGES.validate_python(payload)))
    settle(dst)
    return outcomes
