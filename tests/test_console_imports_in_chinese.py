"""Files loaded through the console and refused: every problem each row or cell has is told in
Chinese, naming the row and the field as the page names them, never in the code's English.

Each import page is sent a file with the usual faults a clerk's spreadsheet has (a missing
column, a wrong type, a repeated code, an unknown parent, a cell that is not a number, a date
written wrongly), and the page's notices and problem tables are read for English words."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.core.identity.factories import sign_in
from tests.data.catalog.factories import make_published
from tests.data.datastore.test_service import ITEMS
from tests.data.sharing.factories import shared_city
from tests.test_console_forms_in_chinese import _english, _notices

ROW = re.compile(r"<tr>(.*?)</tr>", re.S)
CELL = re.compile(r'<td(?![^>]*class="mono")[^>]*>(.*?)</td>', re.S)


def _said(page: str) -> list[str]:
    """The notices and the problem tables' cells (less the codes shown to be copied)."""
    found = _notices(page)
    for row in ROW.findall(page):
        for cell in CELL.findall(row):
            text = re.sub(r'<span class="mono">[^<]*</span>', " ", cell)
            found.append(" ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split()))
    return [t for t in found if t]


def _check(client: TestClient, csrf: str, token: str, url: str, name: str, body: bytes,
           words: set[str]) -> str:  # fmt: skip
    answer = client.post(url, data={"csrf_token": csrf, "form_token": token},
                         files={"file": (name, body)}, headers={"Accept": "text/html"})  # fmt: skip
    assert answer.status_code < 500, answer.text
    problems = [p for text in _said(answer.text) for p in _english(text, words)]
    assert problems == [], f"{url}:\n" + "\n".join(sorted(set(problems)))
    return answer.text


def test_refused_files_are_explained_in_chinese(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    city = shared_city(session)
    resource = make_published(session, city.people, items=ITEMS)
    session.commit()
    csrf = sign_in(client, "root")
    # the catalog: a resource with no provider, a short name, an item of no known type, twice
    catalog = ("名称,信息项\n"
               "井,编号|不存在的类型\n"
               "井盖台账,编号|string;编号|string\n"
               "井盖台账,编号|string\n").encode()  # fmt: skip
    page = _check(client, csrf, form_token(), "/console/catalog/import", "r.csv", catalog,
                  {"name", "items", "provider_unit_code"})  # fmt: skip
    assert "第" in page or "行" in page
    # units and regions: a row without a name, a parent that does not exist, a code twice
    units = ("code,name,region_code,parent_code,credit_code\n"
             "fz.x,,350100,,\n"
             "fz.y,某局,350100,fz.nowhere,\n"
             "fz.y,某局二,3599,,123\n").encode()  # fmt: skip
    token = form_token()
    _check(client, csrf, token, "/console/orgs/import", "u.csv", units,
           {"code", "name", "region_code", "parent_code", "credit_code"})  # fmt: skip
    # the page followed the import under its form's token: checked, refused, done
    followed = client.get("/console/progress/form", headers={"X-Form-Token": token}).json()
    assert followed["status"] == "done"
    regions = ("code,name,level,parent_code\n"
               "350199,,district,3501\n"
               "35019901,某街道,street,350199999\n"
               "x,某地,galaxy,\n").encode()  # fmt: skip
    _check(client, csrf, form_token(), "/console/orgs/import", "r.csv", regions,
           {"code", "name", "level", "parent_code"})  # fmt: skip
    # the event taxonomy: a parent that does not exist, a code twice, a level out of order
    taxonomy = ("categories:\n"
                "  - {code: A1, name: 城市管理, level: 1}\n"
                "  - {code: A1, name: 重复, level: 1}\n"
                "  - {code: B1, name: 路灯, level: 2, parent_code: Z9}\n"
                "  - {code: C1, name: 无名, level: 7}\n").encode()  # fmt: skip
    _check(client, csrf, form_token(), "/console/hub/categories", "t.yaml", taxonomy,
           {"code", "name", "level", "parent_code"})  # fmt: skip
    # a resource's rows: a column it does not have, text in a number, a date written wrongly
    rows = ("井盖编号,所属区划,直径,巡查次数,巡查日期,是否破损,颜色\n"
            "JG001,鼓楼区,很大,3.5,2026-13-45,也许,红\n").encode()  # fmt: skip
    _check(client, csrf, form_token(), f"/console/catalog/{resource.code}/rows", "j.csv", rows,
           {i["name"] for i in ITEMS})  # fmt: skip
