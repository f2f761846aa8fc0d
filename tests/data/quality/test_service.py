from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from citybase.core.errors import Conflict, Forbidden, InvalidInput
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor, LedgerFilter
from citybase.data.datastore import service as datastore
from citybase.data.quality import repository, service
from citybase.data.quality.schemas import (
    DisputeAnswer,
    DisputeCreate,
    RuleCreate,
    RuleKind,
    RuleRead,
)
from tests.data.sharing.factories import citizen_id, person_rows, shared_city


def _rule(rule_id: int, column: str, kind: str, **params: object) -> RuleRead:
    return RuleRead(id=rule_id, resource_code="R", item=column, kind=RuleKind(kind), params=params,
                    created_by="t", created_at=datetime.now(UTC), active=True)  # fmt: skip


def test_each_rule_kind() -> None:
    rows = [
        {"id": citizen_id(1), "sex": "男", "age": 30, "code": "A1", "ref": "x"},
        {"id": citizen_id(1), "sex": "未知", "age": 130, "code": "b2", "ref": "y"},
        {"id": "350102199001011234", "sex": None, "age": None, "code": "", "ref": "x"},
    ]
    rules = [
        _rule(1, "sex", "not_null"), _rule(2, "id", "unique"),
        _rule(3, "code", "pattern", regex=r"[A-Z]\d"), _rule(4, "sex", "value_set", values=["男", "女"]),
        _rule(5, "age", "range", min=0, max=120), _rule(6, "id", "check_chars", code="citizen_id"),
        _rule(7, "ref", "reference", resource="O", item="v"),
    ]  # fmt: skip
    count, results = service.evaluate(rules, rows, {7: {"x"}})
    assert count == 3
    got = {r.rule_id: (r.checked, r.failed) for r in results}
    assert got == {1: (3, 1), 2: (3, 1), 3: (2, 1), 4: (2, 1), 5: (2, 1), 6: (3, 1), 7: (3, 1)}
    assert results[0].examples == [{"row": 3, "value": None}]
    assert results[1].examples == [{"row": 2, "value": citizen_id(1)}]
    overall, items = service.scores(results)
    assert items["sex"] == 60.0  # 5 checks, 2 failed
    assert overall == round(100 * (18 - 7) / 18, 2)


def test_dates_are_ranged_as_text() -> None:
    rows = [{"d": "2026-01-05"}, {"d": "2027-01-01"}]
    _, results = service.evaluate([_rule(1, "d", "range", min="2026-01-01", max="2026-12-31")],
                                  rows, {})  # fmt: skip
    assert (results[0].checked, results[0].failed) == (2, 1)


def test_rules_run_on_a_resource_score_it_and_keep_a_trend(session: Session) -> None:
    city = shared_city(session)
    steward, code = city.people["urbansteward"], city.resource.code
    with pytest.raises(InvalidInput):
        service.add_rule(session, steward, code, RuleCreate(item="无此项", kind="not_null"))
    with pytest.raises(InvalidInput):
        service.add_rule(
            session, steward, code, RuleCreate(item="姓名", kind="pattern", params={"regex": "("})
        )
    with pytest.raises(Forbidden):  # rules are the provider's
        service.add_rule(
            session, city.people["bureausteward"], code, RuleCreate(item="姓名", kind="not_null")
        )
    service.add_rule(session, steward, code, RuleCreate(item="公民身份号码", kind="check_chars",
                                                        params={"code": "citizen_id"}))  # fmt: skip
    service.add_rule(session, steward, code, RuleCreate(item="性别", kind="value_set",
                                                        params={"values": ["男", "女"]}))  # fmt: skip
    first = service.run_now(session, steward, code)
    assert (first.rows, first.score) == (6, 100.0)
    bad = person_rows(6)
    bad[2]["公民身份号码"] = "350102199001011234"
    datastore.load_rows(session, steward, code, bad, "test")
    second = service.run(session, Actor.system("test"), code)
    assert second.item_scores["公民身份号码"] == round(100 * 5 / 6, 2)
    assert second.results[0].examples == [{"row": 3, "value": "350102199001011234"}]
    quality = service.quality_of(session, steward, code)
    assert [p.score for p in quality.trend] == [100.0, second.score]
    assert ledger.find_entries(session, LedgerFilter(action="quality.run"))[1] == 2


def test_reference_rules_check_values_against_another_resource(session: Session) -> None:
    city = shared_city(session)
    steward, code = city.people["urbansteward"], city.resource.code
    with pytest.raises(InvalidInput):
        service.add_rule(session, steward, code, RuleCreate(item="姓名", kind="reference",
                                                            params={"resource": "NOPE", "item": "x"}))  # fmt: skip
    service.add_rule(session, steward, code, RuleCreate(item="姓名", kind="reference",
                                                        params={"resource": code, "item": "姓名"}))  # fmt: skip
    assert service.run_now(session, steward, code).score == 100.0


def test_the_schedule_runs_what_is_due(session: Session) -> None:
    city = shared_city(session)
    steward, code = city.people["urbansteward"], city.resource.code
    with pytest.raises(Conflict):
        service.run_now(session, steward, code)
    service.add_rule(session, steward, code, RuleCreate(item="姓名", kind="not_null"))
    assert service.run_due(session, timedelta(hours=24)) == [code]
    assert service.run_due(session, timedelta(hours=24)) == []
    assert service.run_due(session, timedelta(0)) == [code]


def test_a_dispute_is_answered_and_the_consumer_told(session: Session) -> None:
    city = shared_city(session)
    code = city.resource.code
    raised = service.raise_dispute(
        session, city.consumer,
        DisputeCreate(resource_code=code, item="住址", row_filter={"姓名": "王芳"},
                      description="该当事人已迁居仓山区", proposed_value="福州市仓山区"),
        days=5,
    )  # fmt: skip
    assert raised.status.value == "open"
    assert raised.provider_unit_code == "fz.urban"
    inbox = service.list_disputes(session, city.people["urbansteward"])
    assert [d.number for d in inbox] == [raised.number]
    with pytest.raises(Forbidden):
        service.answer_dispute(session, city.consumer, raised.number,
                               DisputeAnswer(corrected=True, response="改了"))  # fmt: skip
    answered = service.answer_dispute(session, city.people["urbansteward"], raised.number,
                                      DisputeAnswer(corrected=True, response="已核实并更正"))  # fmt: skip
    assert (answered.status.value, answered.seen_by_consumer) == ("corrected", False)
    assert service.acknowledge(session, city.consumer, raised.number).seen_by_consumer
    actions = [
        e.action for e in ledger.find_entries(session, LedgerFilter(object_id=code))[0]
        if e.case_number == raised.number
    ]  # fmt: skip
    assert sorted(actions) == ["quality.dispute.corrected", "quality.dispute.raise"]


def test_overdue_disputes_are_warned_once(session: Session) -> None:
    city = shared_city(session)
    raised = service.raise_dispute(
        session, city.consumer,
        DisputeCreate(resource_code=city.resource.code, description="金额有误"), days=1,
    )  # fmt: skip
    assert service.warn_overdue(session) == []
    row = repository.dispute_by_number(session, raised.number)
    assert row is not None
    row.deadline = datetime.now(UTC) - timedelta(hours=1)
    session.flush()
    assert service.list_disputes(session, city.consumer)[0].overdue
    assert service.warn_overdue(session) == [raised.number]
    assert service.warn_overdue(session) == []


def test_disputes_raised_at_once_are_each_as_one_raised_alone(session: Session) -> None:
    city = shared_city(session)
    code = city.resource.code
    first = service.raise_dispute(
        session, city.consumer, DisputeCreate(resource_code=code, description="金额有误"), days=5
    )  # fmt: skip
    items = [
        DisputeCreate(resource_code=code, item="住址", description="该当事人已迁居仓山区"),
        DisputeCreate(resource_code=code, item="没有这一项", description="不存在的数据项"),
        DisputeCreate(resource_code="R999999", description="不存在的资源"),
        DisputeCreate(resource_code=code, row_filter={"姓名": "王芳"}, description="整行有误"),
        DisputeCreate(resource_code=code, description="超出本次上限"),
    ]
    raised = service.raise_disputes(session, city.consumer, items, days=5, at_most=2)
    assert [d is None for d in raised] == [False, True, True, False]  # the fifth is left out
    numbers = [d.number for d in raised if d is not None]
    prefix = first.number[:-4]
    assert numbers == [f"{prefix}{int(first.number[-4:]) + n:04d}" for n in (1, 2)]
    assert all(d.provider_unit_code == "fz.urban" for d in raised if d is not None)
    entries = ledger.find_entries(session, LedgerFilter(action="quality.dispute.raise"))[0]
    assert sorted(e.case_number for e in entries) == [first.number, *numbers]
    inbox = {d.number for d in service.list_disputes(session, city.people["urbansteward"])}
    assert {first.number, *numbers} <= inbox
    with pytest.raises(Forbidden):  # an account of no unit raises none
        service.raise_disputes(session, city.people["root"], items, days=5)
