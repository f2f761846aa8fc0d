from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from citybase.core.errors import InvalidInput
from citybase.hub.dispatch import service
from citybase.hub.dispatch.schemas import RuleIn, StageDeadlines, Urgency
from tests.hub.cases.factories import SYSTEM, city

CATALOG = """\
rules:
  - {category_code: '01', region_code: '350100', lead_unit: fz.urban}
  - category_code: '0102'
    region_code: '350102001'
    lead_unit: gl.gudong
    support_units: [gl.urban]
    deadlines: {urgent: {sign_hours: 1, handle_days: 0.5}}
"""


def test_the_most_specific_line_of_the_catalog_decides(session: Session) -> None:
    city(session)
    report = service.import_catalog(session, SYSTEM, CATALOG)
    assert (report.ok, report.rules) == (True, 2)
    community = ["350100", "350102", "350102001", "350102001001"]
    # 细类 010202 in a community of 鼓东街道: the street's 0102 line beats the district's
    route = service.route(session, "010202", community, Urgency.urgent)
    assert route is not None
    assert (route.lead_unit, route.support_units) == ("gl.gudong", ["gl.urban"])
    assert (route.sign_hours, route.handle_days) == (1, 0.5)
    normal = service.route(session, "010202", community, Urgency.normal)
    assert normal is not None
    assert (normal.sign_hours, normal.handle_days) == (24, 10)  # the default
    # elsewhere in 鼓楼区 the district's line; 01 elsewhere: the city's
    assert service.route(session, "0102", ["350100", "350102"], Urgency.normal).lead_unit == (  # type: ignore[union-attr]
        "gl.urban")  # fmt: skip
    assert service.route(session, "010101", community, Urgency.normal).lead_unit == "fz.urban"  # type: ignore[union-attr]
    assert service.route(session, "05", community, Urgency.normal) is None
    # a line can be changed in place
    changed = service.put_rule(session, SYSTEM, RuleIn(
        category_code="01", region_code="350100", lead_unit="fz.housing",
        deadlines={Urgency.normal: StageDeadlines(sign_hours=8, handle_days=5)}))  # fmt: skip
    assert len(service.rules(session)) == 4
    service.delete_rule(session, SYSTEM, changed.id)
    assert service.route(session, "010101", community, Urgency.normal) is None


def test_a_catalog_with_problems_loads_nothing_and_names_them(session: Session) -> None:
    city(session)
    before = len(service.rules(session))
    bad = CATALOG + (
        "  - {category_code: '0102', region_code: '350102001', lead_unit: gl.urban}\n"
        "  - {category_code: '77', region_code: '350100', lead_unit: fz.urban}\n"
        "  - {category_code: '01', region_code: '350100', lead_unit: nobody}\n"
        "  - {category_code: '1', region_code: '350100', lead_unit: fz.urban}\n"
    )
    report = service.import_catalog(session, SYSTEM, bad)
    assert not report.ok
    found = {(p.row, p.field) for p in report.problems}
    assert found == {(8, "region_code"), (9, "category_code"), (10, "lead_unit"),
                     (11, "category_code")}  # fmt: skip
    assert len(service.rules(session)) == before
    assert not service.import_catalog(session, SYSTEM, "rules: [").ok
    with pytest.raises(InvalidInput, match="also support"):
        service.put_rule(session, SYSTEM, RuleIn(region_code="350100", lead_unit="fz.urban",
                                                 support_units=["fz.urban"]))  # fmt: skip
