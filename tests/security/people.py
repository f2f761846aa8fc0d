"""The demo city's people, one per role, and how to act as each of them (or as nobody)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor, LedgerFilter
from citybase.core.orgs import service as orgs
from citybase.demo.seed import DEMO_FILE, DEMO_USERS, TAXONOMY_FILE
from citybase.hub.dispatch import service as dispatch
from citybase.hub.dispatch.schemas import RuleIn
from citybase.hub.events import service as events
from tests.core.identity.factories import make_user, sign_in

SYSTEM = Actor.system("test")
ROLES = [u.username for u in DEMO_USERS]  # admin, unitadmin, steward, consumer, operator, …
NOT_ADMIN = [u.username for u in DEMO_USERS if u.role is not Role.platform_admin]
OTHER_HANDLER = "tj.handler"  # a case handler of 台江区城管局, another district's unit


def demo_city(session: Session) -> None:
    """The demo city's regions, units and taxonomy, its people (one per role, as `citybase demo`
    makes them), a handler of a second district, and the road rules of both districts."""
    reports = orgs.import_orgs(session, SYSTEM, DEMO_FILE.name, DEMO_FILE.read_bytes())
    assert not [p for r in reports for p in r.problems]
    events.import_taxonomy(session, SYSTEM, TAXONOMY_FILE.name, TAXONOMY_FILE.read_bytes())
    for user in DEMO_USERS:
        make_user(session, user.username, user.role, unit=user.unit_code)
    make_user(session, OTHER_HANDLER, Role.case_handler, unit="tj.urban")
    for region, unit in (("350102", "gl.urban"), ("350103", "tj.urban")):
        dispatch.put_rule(session, SYSTEM, RuleIn(category_code="0102", region_code=region,
                                                  lead_unit=unit))  # fmt: skip


def act_as(client: TestClient, who: str | None) -> dict[str, str]:
    """Sign the client in as ``who`` (None: nobody) and return the headers a write needs."""
    client.cookies.clear()
    if who is None:
        return {}
    return {"X-CSRF-Token": sign_in(client, who)}


def ledger_size(session: Session) -> int:
    session.expire_all()
    return ledger.size(session)


def count(session: Session, table: type[Any]) -> int:
    """Rows of a table (an ORM class), read afresh."""
    session.expire_all()
    return session.scalar(select(func.count()).select_from(table)) or 0


def ledger_since(session: Session, size: int) -> list[str]:
    """The actions put on the ledger since it had ``size`` entries, oldest first, sign-ins left
    out (signing in as the test's person is on the ledger, as it should be)."""
    session.expire_all()
    entries, _ = ledger.find_entries(session, LedgerFilter(limit=500))
    return [e.action for e in sorted(entries, key=lambda e: e.seq)
            if e.seq >= size and not e.action.startswith("login.")]  # fmt: skip
