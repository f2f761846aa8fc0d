from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.core.identity.factories import sign_in
from tests.data.catalog.factories import catalog_people, make_published
from tests.data.datastore.test_service import CSV, ITEMS


def test_rows_through_the_api(client: TestClient, session: Session) -> None:
    people = catalog_people(session)
    r = make_published(session, people, items=ITEMS)
    h = {"X-CSRF-Token": sign_in(client, "urbansteward")}
    url = f"/api/v1/catalog/resources/{r.code}/rows"
    bad = client.put(
        url, files={"file": ("jg.csv", (CSV + "JG9,鼓楼区,x,1,,\n").encode())}, headers=h
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "file"
    assert bad.json()["error"]["details"]["problems"][0]["row"] == 5
    assert client.get(f"/api/v1/catalog/resources/{r.code}/table").status_code == 404
    ok = client.put(url, files={"file": ("jg.csv", CSV.encode())}, headers=h)
    assert ok.json()["loaded"] is True
    page = client.get(
        url, params={"filters": json.dumps({"所属区划": "鼓楼区"}), "fields": "井盖编号"}
    )
    assert page.json() == {
        "total": 2,
        "columns": [{"name": "井盖编号", "type": "string"}],
        "rows": [{"井盖编号": "JG001"}, {"井盖编号": "JG003"}],
    }
    assert client.get(url, params={"filters": "[1]"}).json()["error"]["field"] == "filters"
    assert client.get(f"/api/v1/catalog/resources/{r.code}/table").json()["row_count"] == 3
    posted = client.post(url, json={"rows": [{"井盖编号": "X1"}]}, headers=h)
    assert posted.status_code == 200, posted.text
    assert posted.json()["rows"] == 1
    assert client.delete(url, headers=h).status_code == 204

    h = {"X-CSRF-Token": sign_in(client, "bureausteward")}
    assert client.get(url).status_code == 403  # rows reach other units through sharing
    assert client.put(url, files={"file": ("jg.csv", CSV.encode())}, headers=h).status_code == 403


def test_rows_in_the_console(client: TestClient, session: Session, form_token) -> None:  # type: ignore[no-untyped-def]
    people = catalog_people(session)
    r = make_published(session, people, items=ITEMS)
    csrf = sign_in(client, "urbansteward")
    page = client.get(f"/console/catalog/{r.code}/rows")
    assert "尚未加载数据" in page.text
    bad = client.post(
        f"/console/catalog/{r.code}/rows", data={"csrf_token": csrf, "form_token": form_token()},
        files={"file": ("jg.csv", (CSV + "JG9,鼓楼区,x,1,,\n").encode())},
    )  # fmt: skip
    assert bad.status_code == 422
    assert "未加载任何数据" in bad.text
    token = form_token()
    loaded = client.post(
        f"/console/catalog/{r.code}/rows", data={"csrf_token": csrf, "form_token": token},
        files={"file": ("jg.csv", CSV.encode())},
    )  # fmt: skip
    assert "已加载 3 行" in loaded.text
    assert "data-follow-form" in loaded.text  # the form's progress line, shown once it is sent
    assert "JG002" in client.get(f"/console/catalog/{r.code}/rows", params={"q": "台江"}).text
    # the load's progress, followed under the form's token by the one who sent it
    follow = client.get("/console/progress/form", headers={"X-Form-Token": token})
    assert follow.status_code == 200
    assert (follow.json()["status"], follow.json()["done"]) == ("done", follow.json()["total"])
    assert "已完成" in follow.json()["line"]
    unknown = client.get("/console/progress/form", headers={"X-Form-Token": form_token()})
    assert unknown.status_code == 404
    sign_in(client, "bureausteward")
    assert client.get("/console/progress/form", headers={"X-Form-Token": token}).status_code == 404
    client.cookies.clear()
    assert client.get("/console/progress/form", headers={"X-Form-Token": token}).status_code == 401
    sign_in(client, "bureausteward")
    other = client.get(f"/console/catalog/{r.code}/rows")
    assert "JG002" not in other.text
    assert "共享申请" in other.text
