from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from tests.core.identity.factories import make_user, sign_in
from tests.core.orgs.factories import make_unit
from tests.data.catalog.factories import catalog_people, make_published


def test_request_decide_and_revoke_through_the_api(client: TestClient, session: Session) -> None:
    people = catalog_people(session)
    make_unit(session, "fz.health", "福州市卫生健康委员会")
    make_user(session, "healthuser", Role.data_consumer, unit="fz.health")
    r = make_published(session, people, share_type="conditional", share_condition="履职需要")
    h = {"X-CSRF-Token": sign_in(client, "healthuser")}
    body = {"resource_code": r.code, "purpose": "核对井盖权属", "legal_basis": "城市管理条例",
            "fields": ["井盖编号"], "days": 10}  # fmt: skip
    created = client.post("/api/v1/sharing/requests", json=body, headers=h)
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    assert created.json()["status"] == "pending"
    # a data consumer cannot decide
    assert client.post(f"/api/v1/sharing/requests/{number}/decision", json={"approve": True},
                       headers=h).status_code == 403  # fmt: skip

    h = {"X-CSRF-Token": sign_in(client, "urbansteward")}
    assert [q["number"] for q in client.get("/api/v1/sharing/requests").json()] == [number]
    decided = client.post(f"/api/v1/sharing/requests/{number}/decision",
                          json={"approve": True, "days": 5}, headers=h)  # fmt: skip
    assert decided.json()["status"] == "granted"
    grants = client.get("/api/v1/sharing/grants", params={"resource": r.code}).json()
    assert [(g["consumer_unit_code"], g["state"]) for g in grants] == [("fz.health", "in_force")]
    revoked = client.post(f"/api/v1/sharing/grants/{grants[0]['id']}/revoke",
                          json={"reason": "任务完成"}, headers=h)  # fmt: skip
    assert revoked.json()["state"] == "revoked"
    missing = client.post("/api/v1/sharing/grants/9999/revoke", json={"reason": "x1"}, headers=h)
    assert missing.status_code == 404
