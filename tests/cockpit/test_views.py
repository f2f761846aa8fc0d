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
    client: TestClient, session: Session
) -> None:
    ids = _setup(session)
    token = sign_in(client, "reporter")
    page = client.get(f"/console/cockpit/indicators/{ids['online']}")
    assert page.status_code == 200
    assert "网上可办率" in page.text
    assert "<svg" in page.text  # the path from baseline to target, drawn before any value
    sent = client.post(f"/console/cockpit/indicators/{ids['online']}/actuals", data={
        "csrf_token": token, "period": "2023", "value": "95", "unit": "%", "source": "年报",
    }, follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303
    assert "error" not in sent.headers["location"]
    twice = client.post(f"/console/cockpit/indicators/{ids['online']}/actuals", data={
        "csrf_token": token, "period": "2023", "value": "96"}, follow_redirects=False)  # fmt: skip
    assert "send%20a%20correction" in twice.headers["location"]
    assert client.get("/console/cockpit/approvals").status_code == 403  # the bureau's queue
    client.post("/logout", data={"csrf_token": token})
    token = sign_in(client, "bureau")
    queue = client.get("/console/cockpit/approvals")
    assert "网上可办率" in queue.text
    actual = re.search(r"/console/cockpit/actuals/(\d+)/decision", queue.text)
    assert actual is not None
    client.post(f"/console/cockpit/actuals/{actual.group(1)}/decision",
                data={"csrf_token": _csrf(queue.text), "approve": "yes"})  # fmt: skip
    overview = client.get("/console/cockpit")
    assert overview.status_code == 200
    assert "2023: 95" in overview.text
    indicator = client.get(f"/console/cockpit/indicators/{ids['online']}")
    assert 'class="actual-point"' in indicator.text


def test_tasks_updates_reports_and_scorecards(client: TestClient, session: Session) -> None:
    ids = _setup(session)
    token = sign_in(client, "reporter")
    sent = client.post(f"/console/cockpit/tasks/{ids['task']}/updates", data={
        "csrf_token": token, "period": "2024-06", "text": "平台上线试运行", "progress": "40",
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
    assert book.sheetnames == ["指标", "任务", "缺报"]
    rows = list(book["任务"].iter_rows(values_only=True))
    assert rows[1][2] == "建设城市大脑"
    assert "平台上线试运行" in str(rows[1][9])
    units = client.get("/console/cockpit/units")
    assert units.status_code == 200
    assert "unit fz.bigdata" not in units.text  # names, not codes
    compare = client.get("/console/cockpit/compare")
    assert compare.status_code == 200


def test_a_plan_file_loads_from_the_console_all_or_nothing(
    client: TestClient, session: Session
) -> None:
    city(session)
    make_user(session, "bureau", Role.platform_admin, unit="fz.bigdata")
    token = sign_in(client, "bureau")
    bad = PLAN.replace("direction: lower", "direction: sideways")
    refused = client.post("/console/cockpit/plans", data={"csrf_token": token},
                          files={"file": ("plan.yaml", bad.encode())}, follow_redirects=False)  # fmt: skip
    assert "error=line" in refused.headers["location"]
    assert plans.list_plans(session) == []
    loaded = client.post("/console/cockpit/plans", data={"csrf_token": token},
                         files={"file": ("plan.yaml", PLAN.encode())}, follow_redirects=False)  # fmt: skip
    assert loaded.headers["location"] == "/console/cockpit?loaded=fz-test"
    assert [p.code for p in plans.list_plans(session)] == ["fz-test"]
