from __future__ import annotations

from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.demo.seed import DEMO_FILE, TAXONOMY_FILE
from citybase.hub.cases import service
from citybase.hub.cases.schemas import CaseCreate
from citybase.hub.dispatch import service as dispatch
from citybase.hub.dispatch.schemas import RuleIn
from citybase.hub.events import service as events
from tests.core.identity.factories import make_user, principal_of

SYSTEM = Actor.system("test")
PEOPLE = {
    "operator": (Role.hotline_operator, "fz.hotline"),
    "gl.handler": (Role.case_handler, "gl.urban"),
    "tj.handler": (Role.case_handler, "tj.urban"),
    "super": (Role.supervisor, "fz.coord"),
}


def city(session: Session) -> None:
    """The demo city's regions, units and taxonomy, four people, and two catalog lines."""
    reports = orgs.import_orgs(session, SYSTEM, DEMO_FILE.name, DEMO_FILE.read_bytes())
    assert not [p for r in reports for p in r.problems]
    events.import_taxonomy(session, SYSTEM, TAXONOMY_FILE.name, TAXONOMY_FILE.read_bytes())
    for name, (role, unit) in PEOPLE.items():
        make_user(session, name, role, unit=unit)
    dispatch.put_rule(session, SYSTEM, RuleIn(category_code="0102", region_code="350102",
                                              lead_unit="gl.urban"))  # fmt: skip
    dispatch.put_rule(session, SYSTEM, RuleIn(category_code="0102", region_code="350103",
                                              lead_unit="tj.urban"))  # fmt: skip


def mover(session: Session, name: str) -> service.Mover:
    return service.Mover.of(session, principal_of(session, name))


ROAD = CaseCreate(
    reporter_name="林小明",
    reporter_phone="138 0591 1234",
    text="鼓东路口的井盖缺失了，晚上很危险，请尽快处理",
    address="福州市鼓楼区鼓东街道虎节社区鼓东路12号",
    category_code="010202",
)
