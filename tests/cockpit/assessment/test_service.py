from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.cockpit.assessment import service as assessment
from citybase.cockpit.assessment.schemas import RulesIn
from citybase.cockpit.indicators import service as indicators
from citybase.cockpit.indicators.schemas import ActualCreate, Decision
from citybase.cockpit.plans import service as plans
from citybase.cockpit.tasks import service as tasks
from citybase.cockpit.tasks.schemas import TaskStatus, UpdateCreate
from citybase.core.errors import Forbidden, InvalidInput
from citybase.core.identity.schemas import Principal
from citybase.core.ledger.models import LedgerEntry
from tests.cockpit.factories import city, load, people


@pytest.fixture
def who(session: Session) -> dict[str, Principal]:
    city(session)
    load(session)
    return people(session)


@pytest.fixture
def year_2024(session: Session, who: dict[str, Principal]) -> dict[str, int]:
    """The test plan through 2024: the bureau's unit reports 网上可办率 on its path and sends
    five monthly updates on its task, meeting the first milestone in May; the comms office
    reports nothing on PUE."""
    [overview] = plans.overview(session)
    ids = {p.indicator.code: p.indicator.id for p in overview.indicators}
    ids["task"] = overview.tasks[0].id
    sent = indicators.report(session, who["bigdata"], ids["online"],
                             ActualCreate(period="2024", value=97), today=date(2025, 1, 20))  # fmt: skip
    indicators.decide(session, who["bureau"], sent.id, Decision(approve=True))
    for month in range(1, 6):
        tasks.report_update(session, who["bigdata"], ids["task"], UpdateCreate(
            period=f"2024-{month:02d}", text="按计划推进", progress=month * 10,
            milestones_done=["平台上线"] if month == 5 else [],
        ), today=date(2024, month, 20))  # fmt: skip
    return ids


def test_each_unit_is_scored_on_its_indicators_tasks_and_updates_and_ranked(
    session: Session, year_2024: dict[str, int]
) -> None:
    found = assessment.assess(session, 2024, today=date(2025, 2, 1))
    assert found.as_of == date(2024, 12, 31)
    assert found.plans == ["fz-test"]
    assert found.rules.set_by == ""  # the default stands
    bigdata, comms = found.units
    assert (bigdata.unit_code, bigdata.rank, comms.unit_code, comms.rank) == (
        "fz.bigdata", 1, "fz.comms", 2)  # fmt: skip
    assert bigdata.name == "福州市大数据发展管理委员会"  # names, not codes
    assert bigdata.indicators == 100  # green: 97 is ahead of the path's 96
    assert bigdata.tasks == 100  # the milestone met in time, the task due in 2025
    assert bigdata.updates == pytest.approx(100 * 5 / 12)  # five of twelve months sent
    assert bigdata.total == pytest.approx((40 * 100 + 40 * 100 + 20 * 500 / 12) / 100)
    states = {(i.kind, i.state) for i in bigdata.items}
    assert states == {("indicator", "green"), ("task", "on_track"), ("updates", "5/12")}
    # the comms office reported nothing: unreported scores 0; it leads no task
    assert (comms.indicators, comms.tasks, comms.updates, comms.total) == (0, None, None, 0)


def test_the_bureau_weighting_changes_the_scores_and_is_on_the_ledger(
    session: Session, year_2024: dict[str, int], who: dict[str, Principal]
) -> None:
    rules = RulesIn.model_validate({
        "parts": {"indicators": 50, "tasks": 50, "updates": 0},
        "indicator_scores": {"unreported": 20}, "note": "2024 年不考核进展报送",
    })  # fmt: skip
    saved = assessment.set_rules(session, who["bureau"], 2024, rules)
    assert saved.set_by == "bureau"
    found = assessment.assess(session, 2024, today=date(2025, 2, 1))
    bigdata, comms = found.units
    assert bigdata.total == 100
    assert comms.total == 20
    entry = session.scalars(select(LedgerEntry).where(
        LedgerEntry.action == "cockpit.assessment.rules_set")).one()  # fmt: skip
    assert entry.details["before"]["parts"]["updates"] == 20
    assert entry.details["after"]["parts"]["updates"] == 0
    # a plan weighed 0 is left out: no unit is assessed on it
    assessment.set_rules(session, who["bureau"], 2024, RulesIn(plan_weights={"fz-test": 0}))
    assert assessment.assess(session, 2024, today=date(2025, 2, 1)).units == []


def test_only_the_bureau_sets_the_weighting_and_a_refusal_changes_nothing(
    session: Session, year_2024: dict[str, int], who: dict[str, Principal]
) -> None:
    for outsider in (who["bigdata"], who["comms"], who["outsider"]):
        with pytest.raises(Forbidden):
            assessment.set_rules(session, outsider, 2024, RulesIn(note="自评满分"))
    with pytest.raises(InvalidInput) as refused:
        assessment.set_rules(session, who["bureau"], 2024, RulesIn(plan_weights={"nope": 2}))
    assert refused.value.field == "plan_weights"
    with pytest.raises(InvalidInput):
        assessment.rules_for(session, 1066)
    assert assessment.rules_for(session, 2024).set_by == ""
    assert not session.scalars(select(LedgerEntry).where(
        LedgerEntry.action == "cockpit.assessment.rules_set")).all()  # fmt: skip


def test_a_past_year_is_read_from_the_updates_sent_by_then(
    session: Session, year_2024: dict[str, int], who: dict[str, Principal]
) -> None:
    # finished in March 2026, after its due date: 2025 saw it overdue; 2026 sees it done late;
    # 2027 (past the plan) does not assess it
    tasks.report_update(session, who["bigdata"], year_2024["task"], UpdateCreate(
        period="2026-03", text="全部完成", progress=100, status=TaskStatus.done,
        milestones_done=["全市接入"],
    ), today=date(2026, 3, 25))  # fmt: skip
    [t2025] = [i for u in assessment.assess(session, 2025, today=date(2026, 4, 1)).units
               for i in u.items if i.kind == "task"]  # fmt: skip
    assert t2025.state == "overdue"
    assert t2025.score == 0
    plan = plans.get_plan(session, "fz-test")
    standing = tasks.year_standing(session, {plan.id: (2021, 2026)}, 2026, date(2026, 4, 1))
    assert [s.state for s in standing] == ["done_late"]
    assert tasks.year_standing(session, {plan.id: (2021, 2027)}, 2027, date(2027, 4, 1)) == []
