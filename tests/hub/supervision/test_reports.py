"""What the centre takes away: the case list and the monthly report as Excel workbooks."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import openpyxl
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import Action, ActionIn, CaseCreate
from tests.core.identity.factories import make_user, sign_in
from tests.hub.cases.factories import ROAD, city, mover

OCTOBER = datetime(2026, 10, 12, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Fuzhou


def _sheets(content: bytes) -> dict[str, list[tuple[object, ...]]]:
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in book.worksheets}


def _month(session: Session) -> list[str]:
    city(session)
    op = mover(session, "operator")
    texts = ["井盖缺失很危险", "路灯坏了一周", "人行道地砖松动"]
    numbers = [cases.intake(session, op, ROAD.model_copy(update={"text": t}),
                            now=OCTOBER).case.number for t in texts]  # fmt: skip
    handler = mover(session, "gl.handler")
    later = OCTOBER + timedelta(hours=2)
    cases.act(session, handler, numbers[0], Action.sign, ActionIn(), now=later)
    cases.act(session, handler, numbers[0], Action.reply, ActionIn(reply="已补装"), now=later)
    cases.act(session, handler, numbers[1], Action.return_, ActionIn(note="不属本单位"), now=later)
    cases.intake(session, op, CaseCreate(text="台江区路灯不亮", address="台江区"), now=OCTOBER)
    return numbers


def test_the_case_list_goes_to_excel_as_each_reader_sees_it(
    client: TestClient, session: Session
) -> None:
    first, *_ = _month(session)
    sign_in(client, "operator")
    got = client.get("/api/v1/hub/cases.xlsx")
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="cases-' in got.headers["content-disposition"]
    [(title, rows)] = _sheets(got.content).items()
    header, *lines = rows
    assert title == "工单"
    assert header[:4] == ("工单编号", "受理时间", "来源", "渠道")
    assert len(lines) == 4
    row = dict(zip(header, next(r for r in lines if r[0] == first), strict=True))
    assert (row["来源"], row["状态"], row["区县"], row["答复"]) == ("12345热线", "答复", "鼓楼区",
                                                                "已补装")  # fmt: skip
    assert row["联系电话"] == "138****1234"  # masked, as on screen
    assert row["主办单位"].endswith("城市管理局")
    assert row["受理时间"] == "2026-10-12 10:00"
    # the page follows the export under a token it chose: its progress, for its user only
    token = "0123456789abcdef0123456789abcdef"
    followed = client.get("/api/v1/hub/cases.xlsx", params={"state": "returned", "follow": token})
    assert len(_sheets(followed.content)["工单"]) == 2  # the header and the returned one
    progress = client.get("/console/progress/form", headers={"X-Form-Token": token}).json()
    assert (progress["status"], progress["done"], progress["total"]) == ("done", 1, 1)
    assert "正在导出工单" in progress["line"] or "已完成" in progress["line"]
    exports, _ = ledger.find_entries(session, LedgerFilter(action="hub.cases.exported"))
    assert sorted(e.details["rows"] for e in exports) == [1, 4]  # each export, with its size
    client.cookies.clear()
    sign_in(client, "tj.handler")  # a unit exports its own cases only: none here
    assert len(_sheets(client.get("/api/v1/hub/cases.xlsx").content)["工单"]) == 1
    assert client.get("/console/progress/form", headers={"X-Form-Token": token}).status_code == 404
    page = client.get("/console/hub/cases").text
    assert page.count("/api/v1/hub/cases.xlsx") == 1
    assert 'data-follow-export="export-progress"' in page


def test_the_monthly_report_ranks_units_and_lists_what_is_overdue(
    client: TestClient, session: Session
) -> None:
    _month(session)
    sign_in(client, "super")
    got = client.get("/api/v1/hub/supervision/report.xlsx", params={"month": "2026-10"})
    assert got.status_code == 200, got.text
    assert 'filename="12345-2026-10.xlsx"' in got.headers["content-disposition"]
    sheets = _sheets(got.content)
    assert list(sheets) == ["总体", "单位排名", "区县", "大类", "当前逾期工单"]
    [head, whole] = sheets["总体"]
    assert head[:3] == ("统计期", "工单量", "按时签收率")
    assert whole[:2] == ("2026-10-01 至 2026-10-31", 4)
    ranked = sheets["单位排名"]
    assert ranked[0][:2] == ("名次", "单位")
    assert ranked[1][0] == 1
    assert str(ranked[1][1]).endswith("城市管理局")
    districts = {r[0]: r[1] for r in sheets["区县"][1:]}
    assert districts == {"鼓楼区": 3, "台江区": 1}
    overdue = sheets["当前逾期工单"]
    assert overdue[0][0] == "工单编号"  # none is red until the sweep runs
    empty = client.get("/api/v1/hub/supervision/report.xlsx", params={"month": "2026-09"})
    assert _sheets(empty.content)["总体"][1][1] == 0
    assert client.get("/api/v1/hub/supervision/report.xlsx",
                      params={"month": "2026-13"}).status_code == 422  # fmt: skip
    assert "月度通报" in client.get("/console/hub/board").text
    client.cookies.clear()
    sign_in(client, "gl.handler")
    assert client.get("/api/v1/hub/supervision/report.xlsx").status_code == 403

    # 鼓楼区's own centre: its district's figures and units, no city-wide 大类
    make_user(session, "gl.centre", Role.supervisor, unit="gl.urban")
    client.cookies.clear()
    sign_in(client, "gl.centre")
    mine = _sheets(client.get("/api/v1/hub/supervision/report.xlsx",
                              params={"month": "2026-10"}).content)  # fmt: skip
    assert list(mine) == ["总体", "单位排名", "区县", "当前逾期工单"]
    assert mine["总体"][1][1] == 3
    assert [r[0] for r in mine["区县"][1:]] == ["鼓楼区"]
