"""Another unit's cases and their files: read, acted on, downloaded, listed — as a handler of
another district's unit, as the hotline operator (who may read every case but act only as the
centre), as roles that have nothing to do with cases, and as nobody. Each attempt is refused and
leaves the case, its history, its files and the ledger as they were."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.files.models import StoredFile
from citybase.core.web import once
from citybase.hub.cases.models import Case, CaseStep
from tests.core.files.factories import photo
from tests.security.people import (
    OTHER_HANDLER,
    act_as,
    count,
    demo_city,
    ledger_since,
    ledger_size,
)

ROAD = {
    "reporter_name": "林小明", "reporter_phone": "13805911234",
    "text": "鼓东路口的井盖缺失了，晚上很危险", "address": "鼓楼区鼓东街道虎节社区",
    "category_code": "010202",
}  # fmt: skip
PDF = b"%PDF-1.7\n%%EOF\n"
ACTIONS: dict[str, dict[str, Any]] = {
    "sign": {}, "note": {"note": "已到现场"}, "reply": {"reply": "已修复"},
    "return": {"note": "不属本单位"}, "extend": {"days": 3, "note": "需要更多时间"},
    "follow_up": {"satisfaction": "satisfied"}, "close": {"reply": "已处理"},
    "reassign": {"note": "改派", "lead_unit": "tj.urban"}, "urge": {"note": "请加快"},
    "escalate": {"note": "需要市级协调"}, "merge": {"target": "FZ0"},
}  # fmt: skip


@pytest.fixture
def case(client: TestClient, session: Session) -> dict[str, str]:
    """A 鼓楼区 road case dispatched to 鼓楼区城管局 (the demo `handler`), with a photo."""
    demo_city(session)
    op = act_as(client, "operator")
    up = client.post("/api/v1/hub/files", files={"file": ("井盖.jpg", photo(), "image/jpeg")},
                     headers=op)  # fmt: skip
    assert up.status_code == 201, up.text
    taken = client.post("/api/v1/hub/cases", headers=op,
                        json=ROAD | {"attachments": [{"file_id": up.json()["id"]}]})  # fmt: skip
    assert taken.status_code == 201, taken.text
    number = taken.json()["case"]["number"]
    assert taken.json()["case"]["lead_unit"] == "gl.urban"
    client.cookies.clear()
    return {"number": number, "file": up.json()["id"]}


def _drawn(client: TestClient) -> dict[str, str]:
    """The form token a console page gives its form, so that what refuses is the role."""
    return {"form_token": once.issue(client.app.state.settings)}


def _state(session: Session, number: str) -> tuple[Any, ...]:
    """Everything an attempt could have changed, read afresh from the database."""
    session.expire_all()
    row = session.query(Case).filter_by(number=number).one()
    return (row.state, row.lead_unit, row.reply, row.attachments, row.extension_asked,
            row.brain_code, row.category_code, count(session, CaseStep),
            count(session, StoredFile))  # fmt: skip


def test_a_handler_of_another_unit_finds_nothing(
    client: TestClient, session: Session, case: dict[str, str]
) -> None:
    number, file_id = case["number"], case["file"]
    before, size = _state(session, number), ledger_size(session)
    headers = act_as(client, OTHER_HANDLER)
    assert client.get(f"/api/v1/hub/cases/{number}").status_code == 404
    assert client.get("/api/v1/hub/cases").json()["total"] == 0
    for filters in ({"q": "井盖"}, {"involving_unit": "gl.urban"}, {"within": "350102"},
                    {"numbers": number}, {"phone": "13805911234"}):  # fmt: skip
        listed = client.get("/api/v1/hub/cases", params=filters)
        assert (listed.status_code, listed.json()["total"]) == (200, 0), filters
    got = client.get(f"/api/v1/hub/cases/{number}/attachments/{file_id}")
    assert got.status_code == 404
    assert client.get(f"/api/v1/hub/cases/{number}/attachments/{file_id}",
                      params={"preview": "true"}).status_code == 404  # fmt: skip
    assert photo()[:64] not in got.content
    for action, body in ACTIONS.items():
        r = client.post(f"/api/v1/hub/cases/{number}/actions/{action}", json=body,
                        headers=headers)  # fmt: skip
        assert r.status_code == 404, (action, r.text)
        assert r.json()["error"]["field"] == "number"
    added = client.post(f"/api/v1/hub/cases/{number}/attachments", headers=headers,
                        files={"file": ("x.pdf", PDF, "application/pdf")})  # fmt: skip
    assert added.status_code == 404
    seen = client.post(f"/api/v1/hub/cases/{number}/contact", params={"why": "回访"},
                       headers=headers)  # fmt: skip
    assert seen.status_code == 404
    assert "13805911234" not in seen.text
    # the console: the page, its steps and its file form answer as if there were no such case
    assert client.get(f"/console/hub/cases/{number}").status_code == 404
    listing = client.get("/console/hub/cases", params={"q": "井盖"})
    assert listing.status_code == 200
    assert number not in listing.text
    for action, body in ACTIONS.items():
        form = {"action": action, **{k: str(v) for k, v in body.items()}}
        r = client.post(f"/console/hub/cases/{number}/act", data=form | _drawn(client),
                        headers=headers, follow_redirects=False)  # fmt: skip
        assert r.status_code == 404, (action, r.status_code)
    r = client.post(f"/console/hub/cases/{number}/attach", headers=headers, data=_drawn(client),
                    files={"file": ("x.pdf", PDF, "application/pdf")}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 404
    export = client.get("/api/v1/hub/cases.xlsx")
    assert export.status_code == 200
    assert number.encode() not in export.content  # (a workbook is zipped: see the count below)
    assert _state(session, number) == before
    assert ledger_since(session, size) == ["hub.cases.exported"]  # the export is on it, empty


def test_the_operator_reads_but_does_not_act_for_the_unit(
    client: TestClient, session: Session, case: dict[str, str]
) -> None:
    number = case["number"]
    headers = act_as(client, "operator")
    _operator_may_not(client, session, number, headers, ["sign", "return"])  # 派单
    signed = client.post(f"/api/v1/hub/cases/{number}/actions/sign",
                         headers=act_as(client, "handler"))  # fmt: skip
    assert signed.status_code == 200, signed.text
    headers = act_as(client, "operator")
    _operator_may_not(client, session, number, headers, ["note", "reply", "return", "extend"])


def _operator_may_not(
    client: TestClient, session: Session, number: str, headers: dict[str, str], actions: list[str]
) -> None:
    assert client.get(f"/api/v1/hub/cases/{number}").status_code == 200
    before, size = _state(session, number), ledger_size(session)
    for action in actions:
        r = client.post(f"/api/v1/hub/cases/{number}/actions/{action}", json=ACTIONS[action],
                        headers=headers)  # fmt: skip
        assert r.status_code == 403, (action, r.text)
        assert r.json()["error"]["field"] == "action"
        assert "hub:cases.handle" in r.json()["error"]["message"]
        form = {"action": action, **{k: str(v) for k, v in ACTIONS[action].items()}}
        page = client.post(f"/console/hub/cases/{number}/act", data=form | _drawn(client),
                           headers=headers, follow_redirects=False)  # fmt: skip
        assert page.status_code == 303
        assert "error=" in page.headers["location"]
    assert _state(session, number) == before
    assert ledger_since(session, size) == []


@pytest.mark.parametrize("who", ["consumer", "steward", "viewer", None])
def test_roles_without_cases_and_nobody_are_refused(
    client: TestClient, session: Session, case: dict[str, str], who: str | None
) -> None:
    number, file_id = case["number"], case["file"]
    before, size = _state(session, number), ledger_size(session)
    headers = act_as(client, who)
    status = 401 if who is None else 403
    for path in ("/api/v1/hub/cases", f"/api/v1/hub/cases/{number}",
                 f"/api/v1/hub/cases/{number}/attachments/{file_id}", "/api/v1/hub/cases.xlsx"):  # fmt: skip
        r = client.get(path)
        assert r.status_code == status, (path, r.text)
        assert r.json()["error"]["code"]
        assert "林小明" not in r.text
        assert "井盖" not in r.text
    for action, body in ACTIONS.items():
        r = client.post(f"/api/v1/hub/cases/{number}/actions/{action}", json=body,
                        headers=headers)  # fmt: skip
        assert r.status_code == status, (action, r.text)
    r = client.post(f"/api/v1/hub/cases/{number}/attachments", headers=headers,
                    files={"file": ("x.pdf", PDF, "application/pdf")})  # fmt: skip
    assert r.status_code == status
    r = client.post("/api/v1/hub/files", headers=headers,
                    files={"file": ("x.pdf", PDF, "application/pdf")})  # fmt: skip
    assert r.status_code == status
    r = client.post("/api/v1/hub/cases", json=ROAD, headers=headers)
    assert r.status_code == status
    page = client.get(f"/console/hub/cases/{number}", follow_redirects=False,
                      headers={"Accept": "text/html"})  # fmt: skip
    if who is None:  # a browser is sent to sign in
        assert (page.status_code, page.headers["location"].split("?")[0]) == (303, "/login")
    else:
        assert page.status_code == 403
    assert "林小明" not in page.text
    act = client.post(f"/console/hub/cases/{number}/act", data={"action": "sign"} | _drawn(client),
                      headers=headers, follow_redirects=False)  # fmt: skip
    assert act.status_code == status
    assert _state(session, number) == before
    assert ledger_since(session, size) == []


def test_a_file_of_one_case_is_not_read_through_another(
    client: TestClient, session: Session, case: dict[str, str]
) -> None:
    """The demo handler's own case does not open the other district's case's photo: a file is
    read through the case it is attached to, never by its id alone."""
    op = act_as(client, "operator")
    mine = client.post("/api/v1/hub/cases", headers=op, json=ROAD | {
        "address": "台江区", "text": "台江区路面塌陷，请处理"})  # fmt: skip
    assert mine.status_code == 201, mine.text
    assert mine.json()["case"]["lead_unit"] == "tj.urban"
    act_as(client, OTHER_HANDLER)
    r = client.get(f"/api/v1/hub/cases/{mine.json()['case']['number']}/attachments/{case['file']}")
    assert (r.status_code, r.json()["error"]["field"]) == (404, "file_id")
