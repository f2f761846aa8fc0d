from __future__ import annotations

import io
import re

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.cockpit.assessment import service as assessment
from citybase.core.identity.schemas import Role
from citybase.core.ledger.models import LedgerEntry
from tests.cockpit.factories import city, load
from tests.core.identity.factories import make_user, sign_in


def _setup(session: Session) -> None:
    city(session)
    load(session)
    make_user(session, "bureau", Role.platform_admin, unit="fz.bigdata")
    make_user(session, "reporter", Role.data_steward, unit="fz.bigdata")


def _rules_changed(session: Session) -> bool:
    return bool(session.scalars(select(LedgerEntry).where(
        LedgerEntry.action == "cockpit.assessment.rules_set")).all())  # fmt: skip


def test_the_assessment_page_ranks_units_and_only_the_bureau_sets_the_weighting(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    _setup(session)
    assert client.get("/console/cockpit/assessment?year=2025").status_code in (302, 303, 401)
    token = sign_in(client, "reporter")
    page = client.get("/console/cockpit/assessment?year=2025")
    assert page.status_code == 200
    assert "年度考核" in page.text
    assert "福州市大数据发展管理委员会" in page.text  # names, not codes
    assert '<svg class="bars"' in page.text
    assert 'action="/console/cockpit/assessment/rules"' not in page.text  # no form for a unit
    crossed = client.post("/console/cockpit/assessment/rules", data={
        "csrf_token": token, "year": "2025", "parts.indicators": "100", "parts.tasks": "0",
        "parts.updates": "0",
    }, follow_redirects=False)  # fmt: skip
    assert crossed.status_code == 403
    assert not _rules_changed(session)
    api = client.put("/api/v1/cockpit/assessment/2025/rules", json={"note": "x"},
                     headers={"X-CSRF-Token": token})  # fmt: skip
    assert api.status_code == 403
    assert not _rules_changed(session)
    workbook = client.get("/console/cockpit/assessment.xlsx?year=2025")
    assert load_workbook(io.BytesIO(workbook.content)).sheetnames == [
        "考核结果", "考核明细", "计分规则"]  # fmt: skip
    client.post("/logout", data={"csrf_token": token})

    token = sign_in(client, "bureau")
    page = client.get("/console/cockpit/assessment?year=2025")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    bad = client.post("/console/cockpit/assessment/rules", data={
        "csrf_token": found.group(1), "form_token": form_token(), "year": "2025", "parts.indicators": "0",
        "parts.tasks": "0", "parts.updates": "0",
    }, follow_redirects=False)  # fmt: skip
    assert bad.status_code == 303
    assert "error=" in bad.headers["location"]  # nothing weighs anything: refused, said why
    assert not _rules_changed(session)
    saved = client.post("/console/cockpit/assessment/rules", data={
        "csrf_token": found.group(1), "form_token": form_token(), "year": "2025", "parts.indicators": "70",
        "parts.tasks": "30", "parts.updates": "0", "plan.fz-test": "1.5",
        "indicator_scores.unreported": "10", "note": "突出指标",
    }, follow_redirects=False)  # fmt: skip
    assert saved.headers["location"] == "/console/cockpit/assessment?year=2025"
    rules = assessment.rules_for(session, 2025)
    assert (rules.parts.indicators, rules.plan_weights, rules.set_by) == (
        70, {"fz-test": 1.5}, "bureau")  # fmt: skip
    assessed = client.get("/api/v1/cockpit/assessment/2025").json()
    assert assessed["rules"]["note"] == "突出指标"
    # nothing reported in 2025 (10 each), the bureau's task past its milestones (0): the comms
    # office, which leads no task, ranks first
    ranked = [(u["unit_code"], u["rank"], round(u["total"], 2)) for u in assessed["units"]]
    assert ranked == [("fz.comms", 1, 10.0), ("fz.bigdata", 2, 7.0)]
    assert client.get("/api/v1/cockpit/assessment/99999").status_code == 422
