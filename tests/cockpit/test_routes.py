from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from tests.cockpit.factories import PLAN, city
from tests.core.identity.factories import make_user, sign_in


def test_the_api_loads_a_plan_takes_values_and_says_where_things_stand(
    client: TestClient, session: Session
) -> None:
    city(session)
    make_user(session, "bureau", Role.platform_admin, unit="fz.bigdata")
    token = sign_in(client, "bureau")
    headers = {"X-CSRF-Token": token, "Content-Type": "application/yaml"}
    bad = client.post("/api/v1/cockpit/plans", content=PLAN.replace("lead: [fz.bigdata]", "lead: []"),
                      headers=headers)  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["problems"][0]["field"] == "tasks.0.lead"
    loaded = client.post("/api/v1/cockpit/plans", content=PLAN, headers=headers)
    assert loaded.status_code == 201
    assert loaded.json()["indicators"] == 2
    plan = client.get("/api/v1/cockpit/plans/fz-test").json()
    online = plan["indicators"][0]["indicator"]["id"]
    json_headers = {"X-CSRF-Token": token}
    reported = client.post(f"/api/v1/cockpit/indicators/{online}/actuals",
                           json={"period": "2023", "value": 95}, headers=json_headers)  # fmt: skip
    assert reported.status_code == 201
    wrong = client.post(f"/api/v1/cockpit/indicators/{online}/actuals",
                        json={"period": "2022", "value": 195}, headers=json_headers)  # fmt: skip
    assert wrong.status_code == 422
    assert wrong.json()["error"]["field"] == "value"
    again = client.post(f"/api/v1/cockpit/indicators/{online}/actuals",
                        json={"period": "2023", "value": 96}, headers=json_headers)  # fmt: skip
    assert again.status_code == 409
    [waiting] = client.get("/api/v1/cockpit/actuals").json()
    decided = client.post(f"/api/v1/cockpit/actuals/{waiting['id']}/decision",
                          json={"approve": True}, headers=json_headers)  # fmt: skip
    assert decided.json()["status"] == "approved"
    progress = client.get(f"/api/v1/cockpit/indicators/{online}").json()
    assert progress["latest"]["value"] == 95
    assert progress["status"] in {"green", "yellow", "red"}
    task = plan["tasks"][0]["id"]
    update = client.post(f"/api/v1/cockpit/tasks/{task}/updates", json={
        "period": "2024-06", "text": "已启动", "progress": 10}, headers=json_headers)  # fmt: skip
    assert update.status_code == 201
    assert client.get(f"/api/v1/cockpit/tasks/{task}").json()["progress"] == 10
    assert isinstance(client.get("/api/v1/cockpit/reminders").json(), list)
