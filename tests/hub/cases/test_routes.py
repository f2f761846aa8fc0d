from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.core.identity.factories import sign_in
from tests.hub.cases.factories import city

ROAD = {
    "reporter_name": "林小明", "reporter_phone": "13805911234",
    "text": "鼓东路口的井盖缺失了，晚上很危险", "address": "鼓楼区鼓东街道虎节社区",
    "category_code": "010202",
}  # fmt: skip


def _headers(client: TestClient, user: str) -> dict[str, str]:
    client.cookies.clear()
    return {"X-CSRF-Token": sign_in(client, user)}


def test_cases_through_the_api(client: TestClient, session: Session) -> None:
    city(session)
    op = _headers(client, "operator")
    taken = client.post("/api/v1/hub/cases", json=ROAD, headers=op)
    assert taken.status_code == 201, taken.text
    body = taken.json()
    number = body["case"]["number"]
    assert body["dispatched"]
    assert body["case"]["reporter_phone"] == "138****1234"
    bad = client.post("/api/v1/hub/cases", json=ROAD | {"reporter_phone": "12345"}, headers=op)
    assert bad.status_code == 422
    assert "phone" in bad.text
    nowhere = client.post("/api/v1/hub/cases", json={"text": "路灯坏了好几天"}, headers=op)
    assert (nowhere.status_code, nowhere.json()["error"]["field"]) == (422, "address")
    page = client.get("/api/v1/hub/cases", params={"state": "dispatched"}).json()
    assert [c["number"] for c in page["items"]] == [number]
    assert client.get("/api/v1/hub/cases", params={"state": "closed"}).json()["total"] == 0
    seen = client.post(f"/api/v1/hub/cases/{number}/contact", params={"why": "回访"}, headers=op)
    assert seen.json()["reporter_phone"] == "13805911234"

    handler = _headers(client, "gl.handler")
    early = client.post(f"/api/v1/hub/cases/{number}/actions/reply", json={"reply": "x"},
                        headers=handler)  # fmt: skip
    assert early.status_code == 409
    assert early.json()["error"]["field"] == "action"
    signed = client.post(f"/api/v1/hub/cases/{number}/actions/sign", headers=handler)
    assert signed.json()["state"] == "signed"
    assert "reply" in signed.json()["allowed"]
    assert client.get("/api/v1/hub/cases").json()["total"] == 1  # its own unit's cases

    other = _headers(client, "tj.handler")
    assert client.get(f"/api/v1/hub/cases/{number}").status_code == 404
    assert client.get("/api/v1/hub/cases").json()["total"] == 0
    assert client.post("/api/v1/hub/cases", json=ROAD, headers=other).status_code == 403
    assert client.post("/api/v1/hub/cases/FZ1/actions/sign", headers=other).status_code == 404
    unknown = client.post(f"/api/v1/hub/cases/{number}/actions/fly", headers=other)
    assert unknown.status_code == 422
    assert client.get("/api/v1/hub/dispatch/rules").status_code == 403

    _headers(client, "super")
    assert len(client.get("/api/v1/hub/dispatch/rules").json()) == 2
    refused = client.post("/api/v1/hub/dispatch/rules/import", content="rules: [{}]",
                          headers={"Content-Type": "application/yaml",
                                   "X-CSRF-Token": sign_in(client, "super")})  # fmt: skip
    assert refused.status_code == 422
    assert refused.json()["problems"][0]["row"] == 1
