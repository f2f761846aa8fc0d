from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.cockpit.indicators import service as indicators
from citybase.cockpit.indicators.models import Indicator
from citybase.cockpit.indicators.schemas import ActualCreate, Correction, Decision, Status
from citybase.cockpit.plans import service as plans
from citybase.core.errors import Conflict, Forbidden, InvalidInput
from citybase.core.ledger.models import LedgerEntry
from tests.cockpit.factories import PLAN, city, load, people

TODAY = date(2024, 3, 15)


def _ind(**values: object) -> Indicator:
    base: dict[str, object] = {
        "targets": {"2023": 94.0, "2025": 98.0}, "baseline_year": 2020, "baseline_value": 90.0,
        "direction": "higher",
    }  # fmt: skip
    return Indicator(**(base | values))


def test_periods_sit_on_one_axis() -> None:
    assert indicators.period_time("2024") == 2024.0
    assert indicators.period_time("2024-12") == 2024.0
    assert indicators.period_time("2024-06") == 2023.5


def test_the_path_runs_straight_from_the_baseline_through_each_target() -> None:
    ind = _ind()
    assert indicators.expected_at(ind, 2020) == 90
    assert indicators.expected_at(ind, 2021.5) == pytest.approx(92.0)  # halfway to 2023's 94
    assert indicators.expected_at(ind, 2024) == pytest.approx(96.0)
    assert indicators.expected_at(ind, 2027) == 98  # after the last target: the last target
    assert indicators.expected_at(ind, 2019) is None
    assert indicators.expected_at(_ind(baseline_year=None, baseline_value=None), 2022) is None


def test_completion_and_status_know_which_way_is_better() -> None:
    assert indicators.completion("higher", 49, 98) == 0.5
    assert indicators.completion("lower", 1.5, 1.35) == pytest.approx(0.9)
    ind = _ind()
    assert indicators.status_of(ind, 96.5, 2024, 98) is Status.green  # ahead of 96
    assert indicators.status_of(ind, 95.5, 2024, 98) is Status.yellow  # behind by 0.5 of 8
    assert indicators.status_of(ind, 94.0, 2024, 98) is Status.red  # behind by 2 of 8
    pue = _ind(targets={"2025": 1.3}, baseline_value=1.6, direction="lower")
    assert indicators.status_of(pue, 1.40, 2023, 1.3) is Status.green  # path says 1.42
    assert indicators.status_of(pue, 1.45, 2023, 1.3) is Status.yellow
    no_path = _ind(baseline_year=None, baseline_value=None, targets={"2026": 57.0})
    assert indicators.status_of(no_path, 58, 2025, 57) is Status.green
    assert indicators.status_of(no_path, 53, 2025, 57) is Status.yellow
    assert indicators.status_of(no_path, 40, 2025, 57) is Status.red


def test_the_forecast_carries_the_reported_trend_to_the_final_year() -> None:
    ind = _ind()
    assert indicators.forecast(ind, [(2022.0, 94.0)], 2025) == pytest.approx(100.0)
    assert indicators.forecast(_ind(baseline_year=None, baseline_value=None), [(2022.0, 94.0)],
                               2025) is None  # fmt: skip
    assert indicators.target_for(ind, 2022) == (2023, 94.0)
    assert indicators.target_for(ind, 2024) == (2025, 98.0)
    assert indicators.target_for(ind, 2030) == (2025, 98.0)


@pytest.fixture
def plan(session: Session) -> dict[str, int]:
    city(session)
    load(session)
    [overview] = plans.overview(session)
    return {p.indicator.code: p.indicator.id for p in overview.indicators}


def test_a_unit_reports_the_bureau_approves_and_progress_follows(
    session: Session, plan: dict[str, int]
) -> None:
    who = people(session)
    online = plan["online"]
    reported = indicators.report(
        session, who["bigdata"], online,
        ActualCreate(period="2023", value=95, unit="％", source="市行政服务中心年报"), today=TODAY,
    )  # fmt: skip
    assert reported.status == "pending"
    assert reported.version == 1
    assert reported.unit_code == "fz.bigdata"
    before = indicators.progress_of(session, online, today=TODAY)
    assert before.latest is None
    assert before.pending == 1
    assert before.status is Status.none
    indicators.decide(session, who["bureau"], reported.id, Decision(approve=True))
    after = indicators.progress_of(session, online, today=TODAY)
    assert after.latest is not None
    assert after.latest.value == 95
    assert (after.target_year, after.target) == (2024 + 1, 98.0)  # no 2024 target: the next one
    assert after.completion == pytest.approx(95 / 98)
    assert after.expected == pytest.approx(94.0)
    assert after.status is Status.green
    assert after.forecast == pytest.approx(95 + 2 * 5 / 3)
    assert after.forecast_meets is True
    actions = session.scalars(
        select(LedgerEntry.action)
        .where(LedgerEntry.action.like("cockpit.actual.%"))
        .order_by(LedgerEntry.seq)
    ).all()
    assert actions == ["cockpit.actual.reported", "cockpit.actual.approved"]


def test_a_period_takes_one_report_then_corrections_with_a_reason(
    session: Session, plan: dict[str, int]
) -> None:
    who = people(session)
    online = plan["online"]
    first = indicators.report(session, who["bigdata"], online, ActualCreate(period="2023", value=91),
                              today=TODAY)  # fmt: skip
    indicators.decide(session, who["bureau"], first.id, Decision(approve=True))
    with pytest.raises(Conflict, match="send a correction"):
        indicators.report(session, who["bigdata"], online, ActualCreate(period="2023", value=92),
                          today=TODAY)  # fmt: skip
    fixed = indicators.correct(session, who["bigdata"], online, "2023",
                               Correction(value=93.5, reason="漏计了区级事项"), today=TODAY)  # fmt: skip
    assert fixed.version == 2
    assert fixed.status == "pending"
    assert fixed.reason == "漏计了区级事项"
    assert indicators.progress_of(session, online, today=TODAY).latest.value == 91  # type: ignore[union-attr]
    indicators.decide(session, who["bureau"], fixed.id, Decision(approve=True))
    history = indicators.history(session, online)
    assert [(a.version, a.status) for a in history] == [(1, "superseded"), (2, "approved")]
    again = indicators.correct(session, who["bigdata"], online, "2023",
                               Correction(value=94, reason="再核"), today=TODAY)  # fmt: skip
    with pytest.raises(InvalidInput, match="say why"):
        indicators.decide(session, who["bureau"], again.id, Decision(approve=False))


def test_bad_values_are_refused_with_the_reason(session: Session, plan: dict[str, int]) -> None:
    who = people(session)
    online, pue = plan["online"], plan["pue"]

    def refused(indicator: int, **values: object) -> str:
        with pytest.raises(InvalidInput) as caught:
            indicators.report(session, who["bureau"], indicator,
                              ActualCreate.model_validate(values), today=TODAY)  # fmt: skip
        return f"{caught.value.field}: {caught.value.message}"

    assert refused(online, period="2023", value=180) == (
        "value: 180.0 % is outside what 网上可办率 can be (0.0–100.0)"
    )
    assert refused(online, period="2023", value=95, unit="万个").startswith(
        "unit: 网上可办率 is measured in %, not 万个"
    )
    assert refused(online, period="2025", value=95).startswith("period: 2025 is still to come")
    assert refused(online, period="2024-04", value=95).startswith("period: 2024-04 is still")
    assert refused(online, period="2018", value=95).startswith("period: 2018 is before")
    assert refused(pue, period="2023", value=0.5).startswith("value: 0.5")
    assert indicators.history(session, online) == []


def test_only_the_indicators_units_report_it(session: Session, plan: dict[str, int]) -> None:
    who = people(session)
    with pytest.raises(Forbidden, match=r"reported by fz\.comms"):
        indicators.report(session, who["bigdata"], plan["pue"],
                          ActualCreate(period="2023", value=1.5), today=TODAY)  # fmt: skip
    with pytest.raises(Forbidden):
        indicators.report(session, who["outsider"], plan["online"],
                          ActualCreate(period="2023", value=95), today=TODAY)  # fmt: skip
    done = indicators.report(session, who["comms"], plan["pue"],
                             ActualCreate(period="2023-06", value=1.5), today=TODAY)  # fmt: skip
    with pytest.raises(Forbidden):
        indicators.decide(session, who["comms"], done.id, Decision(approve=True))


def test_a_measured_value_awaits_review_like_a_reported_one_and_is_not_repeated(
    session: Session, plan: dict[str, int]
) -> None:
    first = indicators.record_measured(session, plan["online"], "2024-02", 96.2, "catalog")
    assert first is not None
    assert first.measured
    assert first.status == "pending"  # the bureau reviews what the platform measured
    assert indicators.progress_of(session, plan["online"], today=TODAY).latest is None
    assert indicators.record_measured(session, plan["online"], "2024-02", 96.2, "catalog") is None
    newer = indicators.record_measured(session, plan["online"], "2024-02", 96.4, "catalog")
    assert newer is not None
    assert newer.version == 2
    versions = {a.version: a.status for a in indicators.history(session, plan["online"])}
    assert versions == {1: "superseded", 2: "pending"}
    who = people(session)
    indicators.decide(session, who["bureau"], newer.id, Decision(approve=True))
    latest = indicators.progress_of(session, plan["online"], today=TODAY).latest
    assert latest is not None
    assert latest.value == 96.4
    assert latest.measured
    # the same figure again writes nothing; a unit's own report awaiting its decision is not
    # pushed aside by the platform
    assert indicators.record_measured(session, plan["online"], "2024-02", 96.4, "catalog") is None
    indicators.report(session, who["bigdata"], plan["online"],
                      ActualCreate(period="2024-01", value=96.0), today=TODAY)  # fmt: skip
    assert indicators.record_measured(session, plan["online"], "2024-01", 95.0, "catalog") is None


def test_the_12345_figures_are_measured_by_the_platform(session: Session) -> None:
    from datetime import UTC, datetime, timedelta

    from citybase.cockpit.indicators.measures import MEASURES, Window
    from citybase.hub.cases import service as cases
    from citybase.hub.cases.schemas import Action, ActionIn, Satisfaction
    from tests.hub.cases.factories import ROAD, city, mover

    november = Window.of_month("2026-11")
    closing = MEASURES["hub.hotline.on_time_closing"]
    assert closing.unit == "%"
    assert closing.count(session, november) is None  # no case yet: nothing to measure
    city(session)
    monday = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    number = cases.intake(session, mover(session, "operator"), ROAD, now=monday).case.number
    for who, action, fields in (
        ("gl.handler", Action.sign, {}), ("gl.handler", Action.reply, {"reply": "已修复。"}),
        ("operator", Action.follow_up, {"satisfaction": Satisfaction.basic}),
        ("operator", Action.close, {}),
    ):  # fmt: skip
        cases.act(session, mover(session, who), number, action, ActionIn.model_validate(fields),
                  now=monday + timedelta(days=1))  # fmt: skip
    assert closing.count(session, november) == 100.0
    assert MEASURES["hub.hotline.satisfaction"].count(session, november) == 100.0
    assert MEASURES["hub.hotline.first_time"].count(session, november) == 100.0
    # nothing closed with a support unit: no case was handled across departments
    assert MEASURES["hub.cases.collaboration"].count(session, november) == 0.0
    # the month before the case came in knows nothing of it; next year's figure neither
    assert closing.count(session, Window.of_month("2026-10")) is None
    assert closing.count(session, Window.of_month("2027-01")) is None


def test_a_measure_fills_an_indicator_in_its_own_unit_or_in_wan_and_yi_of_it() -> None:
    from citybase.cockpit.indicators.measures import MEASURES, problem_with, scale

    rows, devices = MEASURES["data.datastore.rows"], MEASURES["perception.devices.connected"]
    assert scale(rows, "条") == 1
    assert scale(rows, "亿条") == 1e8
    assert scale(devices, "万个") == 1e4
    assert scale(devices, "万户") == 1e4
    assert scale(rows, "%") is None
    assert problem_with("data.datastore.rows", "%") is not None
    assert problem_with("data.datastore.rows", "亿条") is None
    assert "measures no" in (problem_with("data.nothing", "个") or "")


def test_a_plan_naming_a_measure_in_the_wrong_unit_is_refused_with_its_line(
    session: Session,
) -> None:
    city(session)
    text = PLAN.replace("    units: [fz.comms]\ntasks:",
                        "    units: [fz.comms]\n    measure: data.datastore.rows\ntasks:")  # fmt: skip
    result = load(session, text)
    [problem] = result.problems
    assert problem.field == "indicators.1.measure"
    assert problem.line == text.splitlines().index("    measure: data.datastore.rows") + 1
    assert "counts in 条" in problem.message


def test_the_job_measures_the_month_just_closed_once_and_the_bureau_may_measure_now(
    session: Session, plan: dict[str, int]
) -> None:
    from citybase.cockpit.indicators.models import Indicator as Row

    row = session.get(Row, plan["online"])
    assert row is not None
    row.measure = "hub.cases.collaboration"
    row.measure_unit = "%"
    session.flush()
    who = people(session)
    # no case at all: nothing to count from, nothing written
    assert indicators.measure_due(session, date(2024, 3, 2)) == []
    from unittest import mock

    with mock.patch("citybase.hub.cases.service.collaboration_rate", return_value=0.25):
        [written] = indicators.measure_due(session, date(2024, 3, 2))
        assert (written.period, written.value, written.status) == ("2024-02", 25.0, "pending")
        assert indicators.measure_due(session, date(2024, 3, 20)) == []  # measured once
        with pytest.raises(Forbidden):
            indicators.measure_now(session, who["bigdata"], plan["online"])
        now = indicators.measure_now(session, who["bureau"], plan["online"])
        assert now is not None
        assert now.measured
    with pytest.raises(InvalidInput):
        indicators.measure_now(session, who["bureau"], plan["pue"])
