from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from citybase.core.errors import Conflict
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import ResourceUpdate, Transition
from citybase.data.review import service
from citybase.data.review.schemas import Severity
from tests.data.catalog.factories import catalog_people, make_resource


def _fields(review) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {i.field: i.severity.value for i in review.issues}


def test_a_clean_resource_has_no_errors(session: Session) -> None:
    people = catalog_people(session)
    r = make_resource(session, people["urbansteward"])
    review = service.review_resource(session, people["urbansteward"], r.code)
    assert review.errors == 0


def test_items_are_checked_against_their_data_elements(session: Session) -> None:
    people = catalog_people(session)
    r = make_resource(
        session, people["urbansteward"],
        items=[
            {"name": "身份证", "data_type": "integer", "element": "公民身份号码"},
            {"name": "证件号", "data_type": "string", "length": 15, "element": "公民身份号码"},
            {"name": "星座", "data_type": "string", "element": "星座代码"},
            {"name": "姓名", "data_type": "string"},
        ],
    )  # fmt: skip
    fields = _fields(service.review_resource(session, people["urbansteward"], r.code))
    assert fields == {
        "items.0.data_type": "error",
        "items.1.length": "error",
        "items.2.element": "error",
        "items.3.element": "warning",
    }


def test_completeness_and_code_rules(session: Session) -> None:
    people = catalog_people(session)
    r = make_resource(
        session, people["urbansteward"], classification="200001", share_method="", keywords=[],
        theme_tags=[], related_codes=["301001-000099", "nonsense"],
    )  # fmt: skip
    fields = _fields(service.review_resource(session, people["urbansteward"], r.code))
    assert fields == {
        "keywords": "warning",
        "share_method": "error",
        "theme_tags": "error",
        "classification": "error",
        "related_codes.0": "error",
        "related_codes.1": "error",
    }


def test_a_resource_with_errors_cannot_be_approved(session: Session) -> None:
    people = catalog_people(session)
    r = make_resource(session, people["urbansteward"], share_method="")
    catalog.transition(session, people["urbansteward"], r.code, "submit", Transition())
    with pytest.raises(Conflict) as refused:
        catalog.transition(session, people["bureausteward"], r.code, "approve", Transition())
    assert refused.value.field == "share_method"
    assert "normative review" in refused.value.message
    # returned, fixed, submitted again: it passes
    catalog.transition(
        session, people["bureausteward"], r.code, "return", Transition(reason="补充共享方式")
    )
    catalog.update_resource(
        session, people["urbansteward"], r.code, ResourceUpdate(share_method="接口")
    )
    catalog.transition(session, people["urbansteward"], r.code, "submit", Transition())
    assert (
        catalog.transition(
            session, people["bureausteward"], r.code, "approve", Transition()
        ).status.value
        == "reviewed"
    )


def test_the_catalog_report(session: Session) -> None:
    people = catalog_people(session)
    make_resource(session, people["urbansteward"])
    make_resource(session, people["urbansteward"], share_method="", keywords=[])
    report = service.review_catalog(session, people["urbansteward"])
    assert (report.resources, report.with_errors, report.errors, report.warnings) == (2, 1, 1, 1)
    assert report.by_rule == {"completeness": 2}
    assert all(i.severity in Severity for r in report.reviews for i in r.issues)


def test_the_registry_holds_the_common_elements() -> None:
    names = {e.name for e in service.elements()}
    assert {"公民身份号码", "统一社会信用代码", "手机号码", "姓名", "地址", "日期"} <= names
