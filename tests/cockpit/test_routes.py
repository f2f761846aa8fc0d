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
    assert client.delete(f"/api/v1/cockpit/indicators/{online}",
                         headers=json_headers).status_code == 409  # it holds a value  # fmt: skip
    assert client.delete(f"/api/v1/cockpit/tasks/{task}", headers=json_headers).status_code == 409


def test_the_api_edits_a_plan_piece_by_piece(client: TestClient, session: Session) -> None:
    city(session)
    make_user(session, "bureau", Role.platform_admin, unit="fz.bigdata")
    make_user(session, "reporter", Role.data_steward, unit="fz.bigdata")
    token = sign_in(client, "bureau")
    client.post("/api/v1/cockpit/plans", content=PLAN,
                headers={"X-CSRF-Token": token, "Content-Type": "application/yaml"})  # fmt: skip
    headers = {"X-CSRF-Token": token}
    document = {"title": "测试规划", "issuer": "福州市人民政府办公厅", "period": [2021, 2026],
                "city": "福州市", "region": "350100", "document_number": "榕政办〔2022〕28号"}  # fmt: skip
    edited = client.put("/api/v1/cockpit/plans/fz-test/document", json=document, headers=headers)
    assert edited.status_code == 200
    assert (edited.json()["end_year"], edited.json()["revision"]) == (2026, 2)
    unknown = client.put("/api/v1/cockpit/plans/fz-test/document",
                         json=document | {"region": "999999"}, headers=headers)  # fmt: skip
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "region"
    spec = {"code": "5g", "name": "每万人拥有5G基站数", "unit": "个", "targets": {"2025": 35},
            "direction": "higher", "units": ["fz.comms"]}  # fmt: skip
    added = client.post("/api/v1/cockpit/plans/fz-test/indicators", json=spec, headers=headers)
    assert added.status_code == 201
    again = client.post("/api/v1/cockpit/plans/fz-test/indicators", json=spec, headers=headers)
    assert again.status_code == 409
    changed = client.put(f"/api/v1/cockpit/indicators/{added.json()['id']}",
                         json=spec | {"targets": {"2025": 36}}, headers=headers)  # fmt: skip
    assert changed.json()["targets"] == {"2025": 36.0}
    task = client.post("/api/v1/cockpit/plans/fz-test/tasks", headers=headers, json={
        "number": "2", "title": "建设物联感知平台", "lead": ["fz.comms"]})  # fmt: skip
    assert task.status_code == 201
    assert client.put(f"/api/v1/cockpit/tasks/{task.json()['id']}", headers=headers, json={
        "number": "2", "title": "建设物联感知平台（一期）", "lead": ["fz.comms"],
    }).json()["title"] == "建设物联感知平台（一期）"  # fmt: skip
    assert client.delete(f"/api/v1/cockpit/indicators/{added.json()['id']}",
                         headers=headers).status_code == 204  # fmt: skip
    assert client.delete(f"/api/v1/cockpit/tasks/{task.json()['id']}",
                         headers=headers).status_code == 204  # fmt: skip
    plan = client.get("/api/v1/cockpit/plans/fz-test").json()
    assert [i["indicator"]["code"] for i in plan["indicators"]] == ["online", "pue"]
    assert plan["plan"]["revision"] == 8  # loaded, then seven changes
    client.post("/logout", data={"csrf_token": token})
    token = sign_in(client, "reporter")
    refused = client.put("/api/v1/cockpit/plans/fz-test/document", json=document,
                         headers={"X-CSRF-Token": token})  # fmt: skip
    assert refused.status_code == 403
