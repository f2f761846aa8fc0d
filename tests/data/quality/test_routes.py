from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.core.identity.factories import sign_in
from tests.data.sharing.factories import shared_city


def test_rules_runs_and_disputes_through_the_api(client: TestClient, session: Session) -> None:
    city = shared_city(session)
    code = city.resource.code
    csrf = sign_in(client, "urbansteward")
    h = {"X-CSRF-Token": csrf}
    bad = client.post(f"/api/v1/quality/resources/{code}/rules", headers=h,
                      json={"item": "罚款金额", "kind": "range", "params": {}})  # fmt: skip
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "params.min")
    rule = client.post(f"/api/v1/quality/resources/{code}/rules", headers=h,
                       json={"item": "罚款金额", "kind": "range", "params": {"min": 0, "max": 202}})  # fmt: skip
    assert rule.status_code == 201, rule.text
    run = client.post(f"/api/v1/quality/resources/{code}/runs", headers=h).json()
    assert (run["checks"], run["failures"]) == (6, 3)  # 203, 204 and 205 are over
    assert client.get(f"/api/v1/quality/resources/{code}").json()["last"]["score"] == 50.0
    assert client.delete(f"/api/v1/quality/resources/{code}/rules/{rule.json()['id']}",
                         headers=h).status_code == 204  # fmt: skip
    client.cookies.clear()
    h = {"X-CSRF-Token": sign_in(client, "healthuser")}
    raised = client.post("/api/v1/quality/disputes", headers=h,
                         json={"resource_code": code, "item": "罚款金额", "description": "金额超出上限"})  # fmt: skip
    assert raised.status_code == 201, raised.text
    assert raised.json()["deadline"] > raised.json()["created_at"]
    # a consumer cannot answer, nor run rules
    number = raised.json()["number"]
    assert client.post(f"/api/v1/quality/disputes/{number}/answer", headers=h,
                       json={"corrected": True, "response": "ok"}).status_code == 403  # fmt: skip
    assert client.post(f"/api/v1/quality/resources/{code}/runs", headers=h).status_code == 403
