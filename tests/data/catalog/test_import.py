"""Bulk registration from a spreadsheet (``import_resources`` in service.py)."""

from __future__ import annotations

import io

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.errors import InvalidInput
from citybase.data.catalog import service
from citybase.data.catalog.schemas import ResourceFilter
from tests.core.identity.factories import sign_in
from tests.data.catalog.factories import catalog_people

HEADER = ["分类码", "提供单位", "资源名称", "摘要", "资源格式", "共享类型", "共享方式", "开放类型",
          "更新周期", "关键词", "主题库", "基础库"]  # fmt: skip
GOOD = ["301001", "fz.urban", "路灯设施信息", "全市路灯的位置、功率与维护单位信息。", "数据库",
        "无条件共享", "接口", "不予开放", "每月", "路灯，照明", "城乡建设", "自然资源和空间地理"]  # fmt: skip


def workbook(resources: list[list[str]], items: list[list[str]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "资源"
    for row in [HEADER, *resources]:
        sheet.append(row)
    item_sheet = book.create_sheet("信息项")
    for row in [["资源", "信息项名称", "数据类型", "长度", "含义", "数据元"], *items]:
        item_sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_registers_every_row_as_a_draft(session: Session) -> None:
    people = catalog_people(session)
    second = [*GOOD]
    second[2] = "路灯巡检记录"
    content = workbook(
        [GOOD, second],
        [["路灯设施信息", "灯杆编号", "字符型", 20, "", ""],
         ["路灯设施信息", "功率", "数值型", None, "瓦", ""],
         ["路灯巡检记录", "巡检日期", "日期型", None, "", "日期"]],
    )  # fmt: skip
    report = service.import_resources(session, people["urbansteward"], "路灯.xlsx", content)
    assert report.applied
    assert len(report.created) == 2
    first = service.get_accessible_resource(session, people["urbansteward"], report.created[0])
    assert first.share_type.value == "unconditional"
    assert [i.name for i in first.items] == ["灯杆编号", "功率"]
    assert [b.value for b in first.base_tags] == ["geo"]
    assert first.keywords == ["路灯", "照明"]


def test_a_bad_row_registers_nothing_and_names_its_cells(session: Session) -> None:
    people = catalog_people(session)
    bad = [*GOOD]
    bad[2], bad[5], bad[0] = "坏行", "随便共享", "901001"
    content = workbook([GOOD, bad], [["路灯设施信息", "灯杆编号", "字符型", 20, "", ""]])
    report = service.import_resources(session, people["urbansteward"], "x.xlsx", content)
    assert not report.applied
    cells = {(p.row, p.column) for p in report.problems}
    assert {(3, "share_type"), (3, "classification"), (3, "items")} <= cells
    assert (
        service.get_accessible_resources(session, people["urbansteward"], ResourceFilter()).total
        == 0
    )


def test_csv_with_items_in_one_column(session: Session) -> None:
    people = catalog_people(session)
    csv = (",".join([*HEADER, "信息项"]) + "\n"
           + ",".join([*GOOD, "灯杆编号|字符型|20||;功率|数值型|||"]) + "\n")  # fmt: skip
    report = service.import_resources(session, people["urbansteward"], "r.csv", csv.encode())
    assert report.applied, report.problems
    resource = service.get_accessible_resource(session, people["urbansteward"], report.created[0])
    assert [i.data_type.value for i in resource.items] == ["string", "decimal"]


def test_rows_of_another_unit_are_refused(session: Session) -> None:
    people = catalog_people(session)
    other = [*GOOD]
    other[1] = "fz.bigdata"
    content = workbook([other], [["路灯设施信息", "灯杆编号", "字符型", 20, "", ""]])
    report = service.import_resources(session, people["urbansteward"], "x.xlsx", content)
    assert [(p.row, p.column) for p in report.problems] == [(2, "provider_unit_code")]
    assert report.created == []


@pytest.mark.parametrize(
    ("name", "content"), [("x.txt", b"a"), ("x.xlsx", b"not a zip"), ("x.csv", b"")]
)
def test_unreadable_files(session: Session, name: str, content: bytes) -> None:
    people = catalog_people(session)
    with pytest.raises(InvalidInput) as caught:
        service.import_resources(session, people["urbansteward"], name, content)
    assert caught.value.field == "file"


def test_import_through_the_api_and_console(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    catalog_people(session)
    csrf = sign_in(client, "urbansteward")
    content = workbook([GOOD], [])  # no items: refused
    refused = client.post(
        "/api/v1/catalog/import",
        files={"file": ("x.xlsx", content)},
        headers={"X-CSRF-Token": csrf},
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["problems"][0]["column"] == "items"
    content = workbook([GOOD], [["路灯设施信息", "灯杆编号", "字符型", 20, "", ""]])
    token = form_token()
    page = client.post(
        "/console/catalog/import",
        data={"csrf_token": csrf, "form_token": token},
        files={"file": ("x.xlsx", content)},
    )
    assert page.status_code == 200
    assert "301001-000001" in page.text
    assert "data-follow-form" in page.text  # the page follows the next import as it runs
    # the import reported how far it got under the form's token, to the user who sent it
    done = client.get("/console/progress/form", headers={"X-Form-Token": token}).json()
    assert (done["status"], done["done"], done["total"]) == ("done", 2, 2)
