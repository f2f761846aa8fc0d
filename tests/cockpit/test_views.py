from __future__ import annotations

import io
import re

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from citybase.cockpit.plans import service as plans
from citybase.core.identity.schemas import Role
from tests.cockpit.factories import PLAN, city, load
from tests.core.identity.factories import make_user, sign_in


def _setup(session: Session) -> dict[str, int]:
    city(session)
    load(session)
    make_user(session, "bureau", Role.platform_admin, unit="fz.bigdata")
    make_user(session, "reporter", Role.data_steward, unit="fz.bigdata")
    make_user(session, "comms", Role.unit_admin, unit="fz.comms")
    [overview] = plans.overview(session)
    return {"online": overview.indicators[0].indicator.id, "task": overview.tasks[0].id}


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_a_unit_reports_on_the_console_and_the_bureau_approves(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    ids = _setup(session)
    token = sign_in(client, "reporter")
    page = client.get(f"/console/cockpit/indicators/{ids['online']}")
    assert page.status_code == 200
    assert "网上可办率" in page.text
    assert "<svg" in page.text  # the path from baseline to target, drawn before any value
    sent = client.post(f"/console/cockpit/indicators/{ids['online']}/actuals", data={
        "csrf_token": token, "form_token": form_token(), "period": "2023", "value": "95", "unit": "%", "source": "年报",
    }, follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303
    assert "error" not in sent.headers["location"]
    twice = client.post(f"/console/cockpit/indicators/{ids['online']}/actuals", data={
        "csrf_token": token, "form_token": form_token(), "period": "2023", "value": "96"}, follow_redirects=False)  # fmt: skip
    assert "send%20a%20correction" in twice.headers["location"]
    assert client.get("/console/cockpit/approvals").status_code == 403  # the bureau's queue
    client.post("/logout", data={"csrf_token": token})
    token = sign_in(client, "bureau")
    queue = client.get("/console/cockpit/approvals")
    assert "网上可办率" in queue.text
    actual = re.search(r"/console/cockpit/actuals/(\d+)/decision", queue.text)
    assert actual is not None
    client.post(f"/console/cockpit/actuals/{actual.group(1)}/decision",
                data={"csrf_token": _csrf(queue.text), "form_token": form_token(), "approve": "yes"})  # fmt: skip
    overview = client.get("/console/cockpit")
    assert overview.status_code == 200
    assert "2023: 95" in overview.text
    assert '<svg class="spark"' in overview.text  # each indicator's sparkline
    assert '<polyline class="line-' in overview.text  # with its approved value
    assert 'class="task-overdue"' in overview.text  # the task, due 2025, on the timeline
    indicator = client.get(f"/console/cockpit/indicators/{ids['online']}")
    assert 'class="actual-point"' in indicator.text
    assert 'class="baseline-point"' in indicator.text
    assert 'class="measured-point"' not in indicator.text.split('<g class="legend"')[0]


def test_tasks_updates_reports_and_scorecards(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    ids = _setup(session)
    token = sign_in(client, "reporter")
    sent = client.post(f"/console/cockpit/tasks/{ids['task']}/updates", data={
        "csrf_token": token, "form_token": form_token(), "period": "2024-06", "text": "平台上线试运行", "progress": "40",
        "status": "in_progress", "milestones_done[]": "平台上线",
    }, follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303
    assert "error" not in sent.headers["location"]
    task = client.get(f"/console/cockpit/tasks/{ids['task']}")
    assert "平台上线试运行" in task.text
    assert "✓" in task.text
    assert "建设城市大脑" in client.get("/console/cockpit/tasks?mine=1").text
    report = client.get("/console/cockpit/report?month=2024-06")
    assert "平台上线试运行" in report.text
    xlsx = client.get("/console/cockpit/report.xlsx?month=2024-06")
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["指标", "任务", "逾期任务", "偏离路径指标", "缺报"]
    rows = list(book["任务"].iter_rows(values_only=True))
    assert rows[1][2] == "建设城市大脑"
    assert "平台上线试运行" in str(rows[1][9])
    # the task was due at the end of 2025: the report names it overdue, with its units by name
    [_, overdue] = list(book["逾期任务"].iter_rows(values_only=True))
    assert overdue[2] == "建设城市大脑"
    assert overdue[4] == "福州市大数据发展管理委员会"
    overdue_part = report.text.split("<h2>逾期任务</h2>")[1].split("<h2>偏离目标路径的指标</h2>")[0]
    assert "建设城市大脑" in overdue_part
    units = client.get("/console/cockpit/units")
    assert units.status_code == 200
    assert "unit fz.bigdata" not in units.text  # names, not codes
    assert '<svg class="bars"' in units.text  # the scores drawn as bars
    compare = client.get("/console/cockpit/compare")
    assert compare.status_code == 200


def test_a_plan_file_loads_from_the_console_all_or_nothing(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    city(session)
    make_user(session, "bureau", Role.platform_admin, unit="fz.bigdata")
    token = sign_in(client, "bureau")
    bad = PLAN.replace("direction: lower", "direction: sideways")
    refused = client.post("/console/cockpit/plans", data={"csrf_token": token, "form_token": form_token()},
                          files={"file": ("plan.yaml", bad.encode())}, follow_redirects=False)  # fmt: skip
    assert "error=line" in refused.headers["location"]
    assert plans.list_plans(session) == []
    loaded = client.post("/console/cockpit/plans", data={"csrf_token": token, "form_token": form_token()},
                         files={"file": ("plan.yaml", PLAN.encode())}, follow_redirects=False)  # fmt: skip
    assert loaded.headers["location"] == "/console/cockpit?loaded=fz-test"
    assert [p.code for p in plans.list_plans(session)] == ["fz-test"]


def test_the_bureau_edits_an_indicator_a_task_and_the_whole_plan(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    ids = _setup(session)
    token = sign_in(client, "bureau")
    form = client.get(f"/console/cockpit/indicators/{ids['online']}/edit")
    assert 'value="2023: 94, 2025: 98"' in form.text
    # one page, sent wrong twice and corrected: each failure gives its token back
    once = form_token()
    bad = client.post(f"/console/cockpit/indicators/{ids['online']}/edit", data={
        "csrf_token": token, "form_token": once, "name": "网上可办率", "unit": "%", "targets": "2025 98",
        "direction": "higher", "units": "fz.bigdata",
    })  # fmt: skip
    assert bad.status_code == 422
    assert "请逐行按“年份: 数值”填写" in bad.text
    unknown = client.post(f"/console/cockpit/indicators/{ids['online']}/edit", data={
        "csrf_token": token, "form_token": once, "name": "网上可办率", "unit": "%", "targets": "2025: 99",
        "direction": "higher", "units": "市不存在局",
    })  # fmt: skip
    assert unknown.status_code == 422
    assert "no unit" in unknown.text
    corrected = {
        "csrf_token": token, "form_token": once, "name": "行政许可网上可办率", "unit": "%",
        "baseline_year": "2020", "baseline_value": "90", "targets": "2024: 96，2025: 99",
        "direction": "higher", "units": "福州市大数据发展管理委员会, fz.comms",
    }  # fmt: skip
    good = client.post(f"/console/cockpit/indicators/{ids['online']}/edit", data=corrected,
                       follow_redirects=False)  # fmt: skip
    assert good.status_code == 303
    # the same page sent again after its success lands on the first's result, edits nothing
    again = client.post(f"/console/cockpit/indicators/{ids['online']}/edit",
                        data=corrected | {"name": "改了第二次"}, follow_redirects=False)  # fmt: skip
    assert again.status_code == 303
    assert again.headers["location"] == good.headers["location"]
    [overview] = plans.overview(session)
    online = overview.indicators[0].indicator
    assert online.name == "行政许可网上可办率"
    assert online.targets == {"2024": 96.0, "2025": 99.0}
    assert online.units == ["fz.bigdata", "fz.comms"]
    assert overview.plan.revision == 2
    task = client.post(f"/console/cockpit/tasks/{ids['task']}/edit", data={
        "csrf_token": token, "form_token": form_token(), "title": "建设城市大脑（一期）", "lead": "fz.bigdata",
        "support": "", "due": "2025-12-31", "milestones": "2024-06-30 平台上线\n2025-03-31 区县接入",
    }, follow_redirects=False)  # fmt: skip
    assert task.status_code == 303
    [edited] = plans.overview(session)[0].tasks
    assert edited.title == "建设城市大脑（一期）"
    assert [m.title for m in edited.milestones] == ["平台上线", "区县接入"]
    assert edited.support_units == []
    text = client.get("/console/cockpit/plans/fz-test/plan.yaml").text
    assert "行政许可网上可办率" in text
    assert "2024: 96" in text
    editor = client.get("/console/cockpit/plans/fz-test/yaml")
    assert "建设城市大脑（一期）" in editor.text
    broken = client.post("/console/cockpit/plans/fz-test/yaml",
                         data={"csrf_token": token, "form_token": form_token(), "text": text.replace("direction: lower", "direction: x")})  # fmt: skip
    assert broken.status_code == 422
    assert "indicators.1.direction" in broken.text
    saved = client.post("/console/cockpit/plans/fz-test/yaml", data={
        "csrf_token": token, "form_token": form_token(), "text": text.replace("title: 测试规划", "title: 测试规划（修订）"),
    }, follow_redirects=False)  # fmt: skip
    assert saved.headers["location"] == "/console/cockpit/plans/fz-test"
    page = client.get("/console/cockpit/plans/fz-test")
    assert "测试规划（修订）" in page.text


def test_the_bureau_edits_the_document_and_adds_and_removes_indicators_and_tasks(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    _setup(session)
    token = sign_in(client, "bureau")
    page = client.get("/console/cockpit/plans/fz-test")
    for link in ("/edit", "/indicators/new", "/tasks/new"):
        assert f"/console/cockpit/plans/fz-test{link}" in page.text
    form = client.get("/console/cockpit/plans/fz-test/edit")
    assert 'value="福州市人民政府办公厅"' in form.text
    document = {
        "csrf_token": token, "title": "测试规划", "kind": "plan", "issuer": "福州市人民政府办公厅",
        "document_number": "榕政办〔2022〕28号", "issued_on": "2022-05-01", "start_year": "2021",
        "end_year": "2023", "city": "福州市", "region": "350100", "goals": "数字政府\n\n数字社会\n",
    }  # fmt: skip
    document["form_token"] = form_token()
    short = client.post("/console/cockpit/plans/fz-test/edit", data=document)
    assert short.status_code == 422
    assert "target year 2025 is outside the plan" in short.text
    saved = client.post("/console/cockpit/plans/fz-test/edit",
                        data=document | {"end_year": "2025"}, follow_redirects=False)  # fmt: skip
    assert saved.headers["location"] == "/console/cockpit/plans/fz-test"
    plan = plans.get_plan(session, "fz-test")
    assert (plan.document_number, plan.goals) == ("榕政办〔2022〕28号", ["数字政府", "数字社会"])
    indicator = {
        "csrf_token": token, "code": "5g", "name": "每万人拥有5G基站数", "unit": "个",
        "baseline_year": "2022", "baseline_value": "18.6", "targets": "2024: 32, 2025: 35",
        "direction": "higher", "nature": "expected", "units": "fz.comms",
    }  # fmt: skip
    assert "新增指标" in client.get("/console/cockpit/plans/fz-test/indicators/new").text
    twice = client.post("/console/cockpit/plans/fz-test/indicators/new",
                        data=indicator | {"code": "online", "form_token": form_token()})  # fmt: skip
    assert twice.status_code == 422
    assert "已有指标 online" in twice.text
    added = client.post("/console/cockpit/plans/fz-test/indicators/new",
                        data=indicator | {"form_token": form_token()}, follow_redirects=False)  # fmt: skip
    assert added.status_code == 303
    new_id = int(added.headers["location"].rsplit("/", 1)[1])
    assert "每万人拥有5G基站数" in client.get(added.headers["location"]).text
    task = client.post("/console/cockpit/plans/fz-test/tasks/new", data={
        "csrf_token": token, "form_token": form_token(), "number": "2", "title": "建设物联感知平台", "lead": "市不存在局",
    })  # fmt: skip
    assert task.status_code == 422
    assert "no unit" in task.text
    task = client.post("/console/cockpit/plans/fz-test/tasks/new", data={
        "csrf_token": token, "form_token": form_token(), "number": "2", "title": "建设物联感知平台", "lead": "fz.comms",
        "milestones": "2025-06-30 平台上线",
    }, follow_redirects=False)  # fmt: skip
    assert task.status_code == 303
    task_id = int(task.headers["location"].rsplit("/", 1)[1])
    [overview] = plans.overview(session)
    assert [i.indicator.code for i in overview.indicators] == ["online", "pue", "5g"]
    assert [t.number for t in overview.tasks] == ["1", "2"]
    assert "从规划中删除" in client.get(f"/console/cockpit/indicators/{new_id}/edit").text
    client.post(
        f"/console/cockpit/indicators/{new_id}/remove",
        data={"csrf_token": token, "form_token": form_token()},
    )
    client.post(
        f"/console/cockpit/tasks/{task_id}/remove",
        data={"csrf_token": token, "form_token": form_token()},
    )
    [overview] = plans.overview(session)
    assert [i.indicator.code for i in overview.indicators] == ["online", "pue"]
    assert [t.number for t in overview.tasks] == ["1"]


def test_only_the_bureau_edits(client: TestClient, session: Session) -> None:
    ids = _setup(session)
    sign_in(client, "reporter")
    assert client.get(f"/console/cockpit/indicators/{ids['online']}/edit").status_code == 403
    assert client.get("/console/cockpit/plans/fz-test/yaml").status_code == 403
    assert client.get("/console/cockpit/plans/fz-test/edit").status_code == 403
    assert client.get("/console/cockpit/plans/fz-test/indicators/new").status_code == 403
    assert client.get("/console/cockpit/plans/fz-test/tasks/new").status_code == 403
    assert client.get("/console/cockpit/plans/fz-test").status_code == 200


def test_the_navigation_marks_the_page_itself_not_its_parent(
    client: TestClient, session: Session
) -> None:
    ids = _setup(session)
    sign_in(client, "reporter")
    page = client.get(f"/console/cockpit/tasks/{ids['task']}").text
    assert re.findall(r'<a href="([^"]+)" aria-current="page"', page) == ["/console/cockpit/tasks"]
    overview = client.get("/console/cockpit").text
    assert re.findall(r'<a href="([^"]+)" aria-current="page"', overview) == ["/console/cockpit"]


def test_the_bureau_asks_the_platform_to_measure_now_and_a_unit_may_not(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    from unittest import mock

    from citybase.cockpit.indicators import service as indicators
    from citybase.cockpit.indicators.models import Indicator

    ids = _setup(session)
    row = session.get(Indicator, ids["online"])
    assert row is not None
    row.measure, row.measure_unit = "hub.cases.collaboration", "%"
    session.flush()
    here = f"/console/cockpit/indicators/{ids['online']}"
    token = sign_in(client, "reporter")
    page = client.get(here)
    assert "采集口径说明" in page.text
    assert f'action="{here}/measure"' not in page.text
    crossed = client.post(
        f"{here}/measure",
        data={"csrf_token": token, "form_token": form_token()},
        follow_redirects=False,
    )
    assert crossed.status_code == 403
    api = client.post(f"/api/v1/cockpit/indicators/{ids['online']}/measure",
                      headers={"X-CSRF-Token": token})  # fmt: skip
    assert api.status_code == 403
    assert indicators.history(session, ids["online"]) == []
    client.post("/logout", data={"csrf_token": token})
    token = sign_in(client, "bureau")
    assert f'action="{here}/measure"' in client.get(here).text
    nothing = client.post(
        f"{here}/measure",
        data={"csrf_token": token, "form_token": form_token()},
        follow_redirects=False,
    )
    assert "error=" in nothing.headers["location"]  # no case closed yet: nothing to count
    with mock.patch("citybase.hub.cases.service.collaboration_rate", return_value=0.5):
        sent = client.post(
            f"{here}/measure",
            data={"csrf_token": token, "form_token": form_token()},
            follow_redirects=False,
        )
        assert sent.headers["location"] == f"{here}?measured=new"
        again = client.post(
            f"{here}/measure",
            data={"csrf_token": token, "form_token": form_token()},
            follow_redirects=False,
        )
        assert again.headers["location"] == f"{here}?measured=same"
    with mock.patch("citybase.hub.cases.service.collaboration_rate", return_value=0.6):
        by_api = client.post(f"/api/v1/cockpit/indicators/{ids['online']}/measure",
                             headers={"X-CSRF-Token": token})  # fmt: skip
        assert (by_api.status_code, by_api.json()["value"]) == (200, 60.0)
    measured, _ = indicators.history(session, ids["online"])
    assert (measured.value, measured.measured, measured.status) == (50.0, True, "superseded")
    assert "已采集本月数值，待审核" in client.get(f"{here}?measured=new").text
