from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.core.identity.factories import sign_in
from tests.data.catalog.factories import catalog_people
from tests.data.sources.test_service import PEOPLE_ITEMS, _registered


def test_register_detect_and_settle_in_the_console(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    people = catalog_people(session)
    r = _registered(session, people, items=PEOPLE_ITEMS)
    csrf = sign_in(client, "bureausteward")
    saved = client.post(
        "/console/sources",
        data={"csrf_token": csrf, "form_token": form_token(), "data_kind": "人口基本信息", "unit_code": "fz.bigdata",
              "elements": "公民身份号码，姓名", "legal_basis": "职责"},
        follow_redirects=False,
    )  # fmt: skip
    assert saved.status_code == 303
    conflicts = client.get("/api/v1/sources/conflicts", params={"status": "open"}).json()
    assert [c["resource_code"] for c in conflicts] == [r.code]
    page = client.get("/console/sources")
    assert r.code in page.text
    once = form_token()  # refused, the page's token is given back for the corrected sending
    refused = client.post(
        f"/console/sources/conflicts/{conflicts[0]['id']}",
        data={"csrf_token": csrf, "form_token": once, "decision": "exempt", "reason": ""},
    )
    assert refused.status_code == 422
    settled = client.post(
        f"/console/sources/conflicts/{conflicts[0]['id']}",
        data={
            "csrf_token": csrf,
            "form_token": once,
            "decision": "exempt",
            "reason": "城管业务自采",
        },
        follow_redirects=False,
    )
    assert settled.status_code == 303
    assert client.get("/api/v1/sources/conflicts", params={"status": "open"}).json() == []
    reader_csrf = sign_in(client, "reader")
    denied = client.post("/api/v1/sources/detect", headers={"X-CSRF-Token": reader_csrf})
    assert denied.status_code == 403
    assert denied.json()["error"]["field"] == "permission"
