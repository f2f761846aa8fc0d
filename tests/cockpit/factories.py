from __future__ import annotations

from sqlalchemy.orm import Session

from citybase.cockpit.plans import service as plans
from citybase.cockpit.plans.schemas import ImportResult
from citybase.core.identity.schemas import Principal, Role
from citybase.core.ledger.schemas import Actor
from tests.core.identity.factories import make_user, principal_of
from tests.core.orgs.factories import make_small_city, make_unit

PLAN = """\
code: fz-test
title: 测试规划
kind: plan
issuer: 福州市人民政府办公厅
period: [2021, 2025]
city: 福州市
region: '350100'
indicators:
  - code: online
    name: 网上可办率
    unit: '%'
    baseline: {year: 2020, value: 90}
    targets: {2023: 94, 2025: 98}
    direction: higher
    units: [福州市大数据发展管理委员会]
  - code: pue
    name: 数据中心PUE
    targets: {2025: 1.3}
    comparator: '<'
    baseline: {year: 2020, value: 1.6}
    direction: lower
    range: [1, 3]
    units: [fz.comms]
tasks:
  - number: '1'
    title: 建设城市大脑
    lead: [fz.bigdata]
    support: [fz.comms]
    due: 2025-12-31
    milestones:
      - {title: 平台上线, due: 2024-06-30}
      - {title: 全市接入, due: 2025-06-30}
"""


def city(session: Session) -> None:
    """The small test city, with the units the test plan names."""
    make_small_city(session)
    make_unit(session, "fz.comms", "福州市通信管理办公室")


def load(session: Session, text: str = PLAN, name: str = "plan.yaml") -> ImportResult:
    return plans.import_plan(session, Actor.system("test"), name, text)


def person(session: Session, username: str, unit: str, *roles: Role) -> Principal:
    make_user(session, username, *roles, unit=unit)
    return principal_of(session, username)


def people(session: Session) -> dict[str, Principal]:
    """A reporter of the bureau's unit, one of the comms office, and the bureau's supervisor."""
    return {
        "bigdata": person(session, "reporter", "fz.bigdata", Role.data_steward),
        "comms": person(session, "comms", "fz.comms", Role.unit_admin),
        "bureau": person(session, "bureau", "fz.bigdata", Role.platform_admin),
        "outsider": person(session, "urbanist", "fz.urban", Role.unit_admin),
    }
