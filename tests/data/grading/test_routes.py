from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.core.identity.factories import sign_in
from tests.data.catalog.factories import catalog_people, make_resource
from tests.data.grading.test_service import citizen_id


def test_scan_and_decide_through_the_api(client: TestClient, session: Session) -> None:
    people = catalog_people(session)
    r = make_resource(
        session, people["root"], base_tags=[],
        items=[{"name": "身份证", "data_type": "string"}, {"name": "住址", "data_type": "string"}],
    )  # fmt: skip
    h = {"X-CSRF-Token": sign_in(client, "urbansteward")}
    scanned = client.post(
        f"/api/v1/grading/{r.code}/scan",
        json={
            "domain": "public_administration",
            "rows": [{"身份证": citizen_id(), "住址": "福州市鼓楼区五四路1号"}],
        },
        headers=h,
    )
    assert scanned.status_code == 200, scanned.text
    assert scanned.json()["proposed_level"] == "general_4"
    decided = client.post(
        f"/api/v1/grading/{r.code}/decision", json={"level": "general_4"}, headers=h
    )
    assert decided.json()["level"] == "general_4"
    assert client.get(f"/api/v1/grading/{r.code}").json()["decided_by"] == "urbansteward"
    h = {"X-CSRF-Token": sign_in(client, "reader")}
    assert client.post(f"/api/v1/grading/{r.code}/scan", json={}, headers=h).status_code == 403
