"""The sandbox's verbs: a steward declares and grants, an analyst asks under a grant; the rows
come through the traced read, the budget is spent once and kept, refusals compute nothing and
stay on the ledger; nobody acts across a unit's boundary."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.errors import Forbidden, InvalidInput, NotFound
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.data.sandbox import repository, service
from citybase.data.sandbox.models import SandboxBudget, SandboxDeclaration, SandboxGrant
from citybase.data.sandbox.schemas import GrantCreate, QueryCreate, QueryStatus, Revocation
from citybase.data.sharing import access as sharing
from citybase.data.sharing.schemas import AccessFilter
from tests.data.sandbox.factories import (
    KEYS,
    SETTINGS,
    add_rows,
    analyst_of_health,
    declaration,
    repeat_offenders,
    sandbox_city,
)

SQL = 'SELECT 性别, COUNT(*), SUM(罚款金额) FROM "{code}" GROUP BY 性别'


def _ask(session: Session, principal, code: str, epsilon: float = 0.5, sql: str = SQL):  # type: ignore[no-untyped-def]
    return service.ask_query(
        session, principal, QueryCreate(sql=sql.format(code=code), epsilon=epsilon), KEYS
    )


def _accesses(session: Session, sc) -> int:  # type: ignore[no-untyped-def]
    return sharing.find_accesses(session, sc.city.people["root"], AccessFilter(), KEYS).total


def test_an_answer_comes_through_the_traced_read_and_spends_its_epsilon(session: Session) -> None:
    sc = sandbox_city(session, epsilon=2.0, rows=0)
    add_rows(session, sc, repeat_offenders(people=40, each=3))
    asked, refused = _ask(session, sc.analyst, sc.code, epsilon=0.5)
    assert refused is None, refused
    assert asked.status is QueryStatus.answered
    assert asked.answer is not None
    assert {r["性别"] for r in asked.answer.rows} == {"男", "女"}
    assert asked.answer.epsilon_spent <= 0.5
    assert asked.remaining == 1.5
    # the read is in the access log under the sandbox basis, with the query's id as reference
    log = sharing.find_accesses(session, sc.city.people["root"], AccessFilter(), KEYS)
    access = log.accesses[0]
    assert access.id == asked.access_id
    assert access.query["basis"] == {"kind": "sandbox", "ref": str(asked.id)}
    assert (access.consumer_unit_code, access.rows) == ("fz.health", 120)
    assert sorted(access.fields) == ["公民身份号码", "性别", "罚款金额"]  # only what it needs
    entries, _ = ledger.find_entries(session, LedgerFilter(action="sandbox.query"))
    reads = [e for e in entries if e.action == "sandbox.query"]
    assert reads[0].details["basis"] == {"kind": "sandbox", "ref": str(asked.id)}
    answers, _ = ledger.find_entries(session, LedgerFilter(action="sandbox.query.answer"))
    assert answers[0].details["text"] == SQL.format(code=sc.code)
    assert answers[0].details["remaining"] == 1.5
    # the budget is kept in the database: read back, it says the same
    (grant,) = service.get_accessible_grants(session, sc.analyst, SETTINGS)
    assert (grant.spent, grant.remaining) == (0.5, 1.5)
    # (the contribution bound itself is tested at a low noise in test_mechanisms: at ε 0.25 a
    # count here is too noisy to tell 80 bounded rows from 120 every time)


def test_a_query_over_budget_is_refused_before_it_runs(session: Session) -> None:
    sc = sandbox_city(session, epsilon=1.0)
    first, _ = _ask(session, sc.analyst, sc.code, epsilon=0.75)
    assert first.status is QueryStatus.answered
    reads = _accesses(session, sc)
    asked, refused = _ask(session, sc.analyst, sc.code, epsilon=0.5)
    assert refused is not None
    assert (asked.status, asked.rule, refused.field) == (QueryStatus.refused, "budget.exceeded",
                                                         "epsilon")  # fmt: skip
    assert refused.status_code == 403
    assert "0.25 left of 1.0" in asked.message
    assert asked.answer is None
    assert _accesses(session, sc) == reads  # no row was read
    entries, _ = ledger.find_entries(session, LedgerFilter(action="sandbox.query.refuse"))
    assert entries[0].details["rule"] == "budget.exceeded"
    assert entries[0].details["text"] == SQL.format(code=sc.code)
    (grant,) = service.get_accessible_grants(session, sc.analyst, SETTINGS)
    assert grant.spent == 0.75
    exact, _ = _ask(session, sc.analyst, sc.code, epsilon=0.25)  # the rest, to the millionth
    assert exact.status is QueryStatus.answered
    assert exact.remaining == 0.0


def test_the_conditional_update_spends_a_budget_once(session: Session) -> None:
    sc = sandbox_city(session, epsilon=1.0)
    assert sc.grant is not None
    period = service.period_key("month")
    assert repository.spend(session, sc.grant.id, period, 1_000_000, 600_000)
    assert not repository.spend(session, sc.grant.id, period, 1_000_000, 600_000)
    assert repository.spend(session, sc.grant.id, period, 1_000_000, 400_000)
    row = session.scalars(select(SandboxBudget)).one()
    assert (row.spent_micro, row.queries) == (1_000_000, 2)


@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        ('SELECT 姓名 FROM "{code}"', "query.non_aggregate"),
        ('SELECT COUNT(*) FROM "{code}" GROUP BY 住址', "query.undeclared_column"),
        ('SELECT COUNT(*) FROM "nowhere"', "sandbox.not_declared"),
        ("SELECT COUNT(* FROM", "query.syntax"),
    ],
)
def test_bad_queries_are_refused_kept_and_spend_nothing(
    session: Session, sql: str, rule: str
) -> None:
    sc = sandbox_city(session)
    asked, refused = _ask(session, sc.analyst, sc.code, sql=sql)
    assert refused is not None
    assert asked.rule == rule, asked.message
    assert asked.status is QueryStatus.refused
    assert _accesses(session, sc) == 0
    assert session.scalar(select(func.count()).select_from(SandboxBudget)) == 0
    entries, _ = ledger.find_entries(session, LedgerFilter(action="sandbox.query.refuse"))
    assert entries[0].details["rule"] == rule
    assert [q.id for q in service.get_accessible_queries(session, sc.analyst, SETTINGS)] == [
        asked.id
    ]


def test_no_grant_and_a_revoked_grant_are_refused(session: Session) -> None:
    sc = sandbox_city(session)
    asked, refused = _ask(session, sc.stranger, sc.code)  # gl.urban holds no grant
    assert refused is not None
    assert asked.rule == "grant.none"
    assert refused.status_code == 403
    assert sc.grant is not None
    with pytest.raises(NotFound):  # another unit's steward cannot revoke it (nor see it)
        service.revoke_grant(session, sc.other_steward, SETTINGS, sc.grant.id,
                             Revocation(reason="越权撤销"))  # fmt: skip
    service.revoke_grant(session, sc.steward, SETTINGS, sc.grant.id, Revocation(reason="项目结束"))
    asked, refused = _ask(session, sc.analyst, sc.code)
    assert refused is not None
    assert asked.rule == "grant.revoked"
    assert "项目结束" in asked.message
    assert _accesses(session, sc) == 0
    # an analyst's grant to one user is not another's of the same unit
    other = analyst_of_health(session, "healthuser2")
    service.grant_budget(session, sc.steward, SETTINGS, GrantCreate(
        resource_code=sc.code, unit_code="fz.health", username="healthuser", epsilon=1,
        purpose="专项统计", legal_basis="《数据安全法》第三十八条"))  # fmt: skip
    assert _ask(session, sc.analyst, sc.code)[0].status is QueryStatus.answered
    assert _ask(session, other, sc.code)[0].rule == "grant.revoked"


def test_only_the_providing_units_steward_declares_and_grants(session: Session) -> None:
    sc = sandbox_city(session, grant=False)
    before = session.scalars(select(SandboxDeclaration)).one().max_rows_per_person
    with pytest.raises(Forbidden):
        service.declare_resource(session, sc.other_steward, sc.code,
                                 declaration(max_rows_per_person=50))  # fmt: skip
    with pytest.raises(Forbidden):
        service.declare_resource(session, sc.analyst, sc.code, declaration())
    assert session.scalars(select(SandboxDeclaration)).one().max_rows_per_person == before
    data = GrantCreate(resource_code=sc.code, unit_code="gl.urban", epsilon=5,
                       purpose="统计", legal_basis="依职责")  # fmt: skip
    with pytest.raises(Forbidden):  # another unit's steward, not the bureau
        service.grant_budget(session, sc.other_steward, SETTINGS, data)
    with pytest.raises(Forbidden):  # an analyst grants itself nothing
        service.grant_budget(session, sc.analyst, SETTINGS, data)
    assert session.scalar(select(func.count()).select_from(SandboxGrant)) == 0
    # the bureau (its stewards, once it is named) grants on any declared resource
    bureau = SETTINGS.model_copy(update={"bureau_unit": "fz.bigdata"})
    made = service.grant_budget(session, sc.other_steward, bureau, data)
    assert made.remaining == 5.0
    with pytest.raises(InvalidInput) as own:
        service.grant_budget(session, sc.steward, SETTINGS, data.model_copy(
            update={"unit_code": "fz.urban"}))  # fmt: skip
    assert own.value.field == "unit_code"
    with pytest.raises(InvalidInput) as stranger:
        service.grant_budget(session, sc.steward, SETTINGS, data.model_copy(
            update={"username": "healthuser"}))  # fmt: skip
    assert stranger.value.field == "username"
    with pytest.raises(InvalidInput):
        service.grant_budget(session, sc.steward, SETTINGS, data.model_copy(
            update={"valid_until": clock.today() - timedelta(days=1)}))  # fmt: skip


def test_a_declaration_names_real_columns_and_numbers_that_reach_the_computation(
    session: Session,
) -> None:
    sc = sandbox_city(session, grant=False)
    with pytest.raises(InvalidInput) as missing:
        service.declare_resource(session, sc.steward, sc.code,
                                 declaration(categorical={"民族": ["汉"]}))  # fmt: skip
    assert missing.value.field == "categorical.民族"
    with pytest.raises(InvalidInput) as masked:  # 出生日期 is cut to its year at 4 级
        service.declare_resource(session, sc.steward, sc.code, declaration(
            numeric={"出生日期": {"lower": 1900, "upper": 2026}}))  # fmt: skip
    assert masked.value.details["rule"] == "declaration.numeric_masked"
    with pytest.raises(InvalidInput):
        service.declare_resource(session, sc.steward, sc.code,
                                 declaration(categorical={"公民身份号码": ["x"]}))  # fmt: skip
    shown = service.get_declaration(session, sc.code)
    assert shown.masking == {"公民身份号码": "pseudonym", "性别": "clear", "罚款金额": "clear"}
    entries, _ = ledger.find_entries(session, LedgerFilter(action="sandbox.declare"))
    assert entries[0].object_id == sc.code


def _delta_grant(session: Session, sc, delta: float) -> int:  # type: ignore[no-untyped-def]
    grant = service.grant_budget(session, sc.steward, SETTINGS, GrantCreate(
        resource_code=sc.code, unit_code="fz.health", username=sc.analyst.username, epsilon=2.0,
        delta=delta, purpose="违法行为的统计分析", legal_basis="《数据安全法》第三十八条",
    ))  # fmt: skip
    return grant.id


def _ask_delta(session: Session, sc, epsilon: float, delta: float, sql: str = SQL):  # type: ignore[no-untyped-def]
    return service.ask_query(session, sc.analyst, QueryCreate(
        sql=sql.format(code=sc.code), epsilon=epsilon, delta=delta), KEYS)  # fmt: skip


def test_delta_is_spent_from_the_grants_delta_and_over_it_refused_before_reading(
    session: Session,
) -> None:
    sc = sandbox_city(session, grant=False, rows=0)
    add_rows(session, sc, repeat_offenders(people=40, each=3))
    grant_id = _delta_grant(session, sc, 1e-6)
    asked, refused = _ask_delta(session, sc, epsilon=0.5, delta=6e-7)
    assert refused is None, refused
    assert asked.answer is not None
    assert asked.delta == 6e-7
    assert asked.answer.delta_spent == 6e-7
    assert asked.answer.rho_spent is not None
    assert 0.49 < asked.answer.epsilon_spent <= 0.5
    assert {a.distribution for a in asked.answer.accuracy} == {"Integer Gaussian"}
    (grant,) = service.get_accessible_grants(session, sc.analyst, SETTINGS)
    assert (grant.id, grant.spent, grant.delta_spent) == (grant_id, 0.5, 6e-7)
    assert abs(grant.delta_remaining - 4e-7) < 1e-15
    budget = session.scalars(select(SandboxBudget)).one()
    assert (budget.spent_micro, budget.spent_delta_pico) == (500_000, 600_000)
    answers, _ = ledger.find_entries(session, LedgerFilter(action="sandbox.query.answer"))
    assert (answers[0].details["delta"], answers[0].details["delta_spent"]) == (6e-7, 6e-7)
    # δ beyond what is left: refused before anything is read, nothing spent
    reads = _accesses(session, sc)
    over, refused = _ask_delta(session, sc, epsilon=0.1, delta=5e-7)
    assert refused is not None
    assert (over.rule, refused.field, refused.status_code) == ("budget.delta_exceeded", "delta",
                                                               403)  # fmt: skip
    assert _accesses(session, sc) == reads
    session.refresh(budget)
    assert (budget.spent_micro, budget.spent_delta_pico) == (500_000, 600_000)


def test_a_grant_without_delta_allows_pure_dp_only(session: Session) -> None:
    sc = sandbox_city(session, epsilon=1.0)
    reads = _accesses(session, sc)
    asked, refused = _ask_delta(session, sc, epsilon=0.1, delta=1e-9)
    assert refused is not None
    assert asked.rule == "budget.delta_exceeded"
    assert _accesses(session, sc) == reads
    (grant,) = service.get_accessible_grants(session, sc.analyst, SETTINGS)
    assert (grant.spent, grant.delta, grant.delta_spent) == (0.0, 0.0, 0.0)
    pure, refused = _ask(session, sc.analyst, sc.code, epsilon=0.1)
    assert refused is None
    assert pure.answer is not None
    assert pure.answer.delta_spent == 0.0


def test_the_conditional_update_refuses_delta_beyond_the_budget(session: Session) -> None:
    sc = sandbox_city(session, epsilon=1.0)
    assert sc.grant is not None
    period = service.period_key("month")
    assert repository.spend(session, sc.grant.id, period, 1_000_000, 1, 1_000, 600)
    assert not repository.spend(session, sc.grant.id, period, 1_000_000, 1, 1_000, 600)
    row = session.scalars(select(SandboxBudget)).one()
    assert (row.spent_micro, row.spent_delta_pico, row.queries) == (1, 600, 1)
