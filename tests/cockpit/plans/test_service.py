from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.cockpit.indicators import service as indicators
from citybase.cockpit.indicators.schemas import ActualCreate, IndicatorSpec
from citybase.cockpit.plans import service as plans
from citybase.cockpit.tasks import service as tasks
from citybase.cockpit.tasks.schemas import TaskSpec, UpdateCreate
from citybase.core.errors import Conflict, InvalidInput
from citybase.core.ledger.models import LedgerEntry
from citybase.core.ledger.schemas import Actor
from tests.cockpit.factories import PLAN, city, load, people


def test_a_plan_loads_with_its_indicators_tasks_and_units(session: Session) -> None:
    city(session)
    result = load(session)
    assert result.applied
    assert not result.problems
    assert (result.plan_code, result.revision, result.indicators, result.tasks) == (
        "fz-test", 1, 2, 1,
    )  # fmt: skip
    [overview] = plans.overview(session)
    online, pue = overview.indicators
    assert online.indicator.units == ["fz.bigdata"]  # named by its full name in the file
    assert online.indicator.targets == {"2023": 94.0, "2025": 98.0}
    assert (online.indicator.minimum, online.indicator.maximum) == (0.0, 100.0)  # a % indicator
    assert pue.indicator.comparator == "<"
    assert pue.indicator.direction == "lower"
    [task] = overview.tasks
    assert task.lead_units == ["fz.bigdata"]
    assert task.support_units == ["fz.comms"]
    assert [m.title for m in task.milestones] == ["平台上线", "全市接入"]
    entry = session.scalars(
        select(LedgerEntry).where(LedgerEntry.action == "cockpit.plan.imported")
    )
    assert entry.one().object_id == "fz-test"


def test_loading_again_updates_and_keeps_what_was_reported(session: Session) -> None:
    city(session)
    load(session)
    who = people(session)
    online = plans.overview(session)[0].indicators[0].indicator
    indicators.report(session, who["bigdata"], online.id, ActualCreate(period="2023", value=93))
    result = load(session, PLAN.replace("targets: {2023: 94, 2025: 98}", "targets: {2025: 99}"))
    assert result.applied
    assert result.revision == 2
    again = plans.overview(session)[0].indicators[0]
    assert again.indicator.id == online.id
    assert again.indicator.targets == {"2025": 99.0}
    assert again.pending == 1


def test_an_indicator_with_values_cannot_be_dropped(session: Session) -> None:
    city(session)
    load(session)
    who = people(session)
    online = plans.overview(session)[0].indicators[0].indicator
    indicators.report(session, who["bigdata"], online.id, ActualCreate(period="2023", value=93))
    start = PLAN.index("  - code: online")
    without_online = PLAN[:start] + PLAN[PLAN.index("  - code: pue") :]
    result = load(session, without_online)
    assert not result.applied
    assert [(p.field, p.message) for p in result.problems] == [
        ("indicators", "indicator online holds reported values: keep it")
    ]
    assert len(plans.overview(session)[0].indicators) == 2


def test_problems_are_named_by_line_and_field(session: Session) -> None:
    city(session)
    bad = PLAN.replace("targets: {2023: 94, 2025: 98}", "targets: {2023: 94, 2025: lots}")
    bad = bad.replace("direction: lower", "direction: sideways")
    result = load(session, bad)
    assert not result.applied
    found = {(p.line, p.field) for p in result.problems}
    line_of = {t: n for n, line in enumerate(bad.splitlines(), 1) for t in [line.strip()]}
    assert (line_of["targets: {2023: 94, 2025: lots}"], "indicators.0.targets.2025") in found
    assert (line_of["direction: sideways"], "indicators.1.direction") in found


def test_what_the_format_cannot_tell_is_checked_too(session: Session) -> None:
    city(session)
    bad = PLAN.replace("units: [fz.comms]", "units: [市不存在局]").replace(
        "targets: {2025: 1.3}", "targets: {2031: 1.3}"
    )
    bad = bad.replace("  - code: pue", "  - code: online")
    result = load(session, bad)
    messages = {p.field: p.message for p in result.problems}
    assert messages["indicators.1.units.0"] == "no unit '市不存在局' in the organisation register"
    assert (
        messages["indicators.1.targets.2031"] == "target year 2031 is outside the plan's 2021–2025"
    )
    assert messages["indicators.1.code"] == "indicator online is given twice"
    assert all(p.line for p in result.problems)
    assert plans.list_plans(session) == []


def test_not_yaml_and_not_a_mapping(session: Session) -> None:
    city(session)
    [broken] = load(session, "code: x\n  bad: [\n").problems
    assert broken.line == 2
    assert broken.message.startswith("not YAML")
    [listed] = load(session, "- a\n- b\n").problems
    assert "mapping" in listed.message


def test_a_city_outside_the_register_loads_without_a_region(session: Session) -> None:
    city(session)
    xiamen = PLAN.replace("city: 福州市\nregion: '350100'", "city: 厦门市").replace(
        "code: fz-test", "code: xm-test"
    )
    xiamen = xiamen.split("tasks:")[0].replace("units: [福州市大数据发展管理委员会]", "")
    xiamen = xiamen.replace("    units: [fz.comms]\n", "")
    assert load(session, xiamen).applied
    unknown = PLAN.replace("region: '350100'", "region: '350200'")
    assert [p.field for p in load(session, unknown).problems] == ["region"]


def test_several_files_load_all_or_none(session: Session) -> None:
    city(session)
    other = PLAN.replace("code: fz-test", "code: fz-other").replace(
        "lead: [fz.bigdata]", "lead: []"
    )
    results = plans.import_plans(
        session, Actor.system("test"), [("a.yaml", PLAN), ("b.yaml", other)]
    )
    assert [r.applied for r in results] == [False, False]
    assert results[1].problems
    assert not results[0].problems
    assert plans.list_plans(session) == []
    twice = plans.import_plans(session, Actor.system("test"), [("a.yaml", PLAN), ("c.yaml", PLAN)])
    assert all(r.problems for r in twice)


def test_a_plan_exported_loads_back_unchanged(session: Session) -> None:
    city(session)
    load(session)
    text = plans.export_plan(session, "fz-test")
    again = load(session, text)
    assert again.applied
    assert again.revision == 2
    assert plans.export_plan(session, "fz-test") == text


def test_a_key_given_twice_is_named_not_guessed(session: Session) -> None:
    city(session)
    twice = PLAN.replace("targets: {2023: 94, 2025: 98}", "targets: {2023: 94, 2025: 98, 2025: 99}")
    [problem] = load(session, twice).problems
    assert problem.field == "indicators.0.targets.2025"
    assert problem.message == "2025 is given twice"
    assert (
        problem.line == twice.splitlines().index("    targets: {2023: 94, 2025: 98, 2025: 99}") + 1
    )
    assert plans.list_plans(session) == []


def test_the_document_is_edited_apart_from_its_indicators_and_tasks(session: Session) -> None:
    city(session)
    load(session)
    actor = Actor.system("test")
    document = plans.document_of(session, "fz-test").model_copy(update={
        "period": (2021, 2026), "document_number": "榕政办〔2022〕28号",
        "goals": ["数字政府", "数字社会"],
    })  # fmt: skip
    edited = plans.edit_document(session, actor, "fz-test", document)
    assert (edited.end_year, edited.document_number, edited.goals, edited.revision) == (
        2026, "榕政办〔2022〕28号", ["数字政府", "数字社会"], 2,
    )  # fmt: skip
    [overview] = plans.overview(session)
    assert [i.indicator.code for i in overview.indicators] == ["online", "pue"]
    assert overview.tasks[0].milestones[0].title == "平台上线"
    shorter = document.model_copy(update={"period": (2021, 2022)})
    with pytest.raises(InvalidInput, match="target year 2025 is outside the plan's 2021–2022"):
        plans.edit_document(session, actor, "fz-test", shorter)
    entry = session.scalars(
        select(LedgerEntry).where(LedgerEntry.action == "cockpit.plan.edited")
    ).one()
    assert entry.details["what"] == "document"


def test_indicators_and_tasks_are_added_and_removed_one_at_a_time(session: Session) -> None:
    city(session)
    load(session)
    who = people(session)
    actor = Actor.system("test")
    spec = IndicatorSpec.model_validate({
        "code": "5g", "name": "每万人拥有5G基站数", "unit": "个", "targets": {2025: 35},
        "direction": "higher", "units": ["福州市通信管理办公室"],
    })  # fmt: skip
    added = plans.add_indicator(session, actor, "fz-test", spec)
    assert (added.code, added.units, added.targets) == ("5g", ["fz.comms"], {"2025": 35.0})
    with pytest.raises(Conflict, match="already has an indicator 5g"):
        plans.add_indicator(session, actor, "fz-test", spec)
    with pytest.raises(InvalidInput, match="no unit"):
        plans.add_indicator(session, actor, "fz-test",
                            spec.model_copy(update={"code": "x", "units": ["市不存在局"]}))  # fmt: skip
    with pytest.raises(InvalidInput, match="target year 2030"):
        plans.add_indicator(session, actor, "fz-test",
                            spec.model_copy(update={"code": "y", "targets": {2030: 1.0}}))  # fmt: skip
    task = plans.add_task(session, actor, "fz-test", TaskSpec.model_validate({
        "number": "2", "title": "建设物联感知平台", "lead": ["fz.comms"], "due": "2025-06-30",
    }))  # fmt: skip
    assert (task.number, task.lead_units) == ("2", ["fz.comms"])
    [overview] = plans.overview(session)
    assert [i.indicator.code for i in overview.indicators] == ["online", "pue", "5g"]
    assert [t.number for t in overview.tasks] == ["1", "2"]
    online = overview.indicators[0].indicator
    indicators.report(session, who["bigdata"], online.id, ActualCreate(period="2023", value=93))
    with pytest.raises(Conflict, match="online holds reported values"):
        plans.remove_indicator(session, actor, online.id)
    plans.remove_indicator(session, actor, added.id)
    first = overview.tasks[0]
    tasks.report_update(session, who["bigdata"], first.id,
                        UpdateCreate(period="2024-06", text="平台上线", progress=40))  # fmt: skip
    with pytest.raises(Conflict, match="task 1 holds monthly updates"):
        plans.remove_task(session, actor, first.id)
    plans.remove_task(session, actor, task.id)
    [after] = plans.overview(session)
    assert [i.indicator.code for i in after.indicators] == ["online", "pue"]
    assert [t.number for t in after.tasks] == ["1"]
    assert after.indicators[0].pending == 1
    assert after.plan.revision == 5  # loaded, then four changes


SOURCED = PLAN.replace(
    "    units: [fz.comms]\ntasks:",
    "    units: [fz.comms]\n"
    "    wording: {'2025': 低于1.3}\n"
    "    source: {file: plan.txt, section: 主要指标, quote: 数据中心PUE 1.6 低于1.3}\n"
    "tasks:",
).replace(
    "    due: 2025-12-31\n",
    "    due: 2025-12-31\n"
    "    others: [各县(市)区政府]\n"
    "    source: {file: plan.txt, section: 一、任务, quote: 1.建设城市大脑。…〔责任单位:…〕}\n",
)


def test_a_record_keeps_its_source_wording_and_collective_units(session: Session) -> None:
    city(session)
    assert load(session, SOURCED).applied
    [overview] = plans.overview(session)
    pue = overview.indicators[1].indicator
    assert pue.wording == {"2025": "低于1.3"}
    assert pue.source is not None
    assert pue.source.quote == "数据中心PUE 1.6 低于1.3"
    [task] = overview.tasks
    assert task.other_units == ["各县(市)区政府"]
    assert task.source is not None
    assert task.source.section == "一、任务"
    text = plans.export_plan(session, "fz-test")
    assert "低于1.3" in text
    assert "各县(市)区政府" in text
    assert load(session, text).applied
    assert plans.export_plan(session, "fz-test") == text


def test_wording_names_a_figure_of_the_indicator(session: Session) -> None:
    city(session)
    bad = SOURCED.replace("wording: {'2025': 低于1.3}", "wording: {'2030': 低于1.3}")
    result = load(session, bad)
    assert not result.applied
    assert [p.field for p in result.problems] == ["indicators.1"]
    assert "wording" in result.problems[0].message


def test_a_task_without_a_lead_must_cite_the_text_that_names_none(session: Session) -> None:
    city(session)
    unsourced = PLAN.replace("lead: [fz.bigdata]", "lead: []")
    result = load(session, unsourced)
    assert [p.field for p in result.problems] == ["tasks.0.lead"]
    assert plans.list_plans(session) == []
    sourced = SOURCED.replace("lead: [fz.bigdata]", "lead: []")
    assert load(session, sourced).applied
    [task] = plans.overview(session)[0].tasks
    assert task.lead_units == []
