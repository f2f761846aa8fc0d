from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.core.identity.factories import sign_in
from tests.data.catalog.factories import catalog_people, resource_data


def _body(**overrides: Any) -> dict[str, Any]:
    return resource_data(**overrides).model_dump(mode="json")


def test_register_change_and_publish_through_the_api(client: TestClient, session: Session) -> None:
    catalog_people(session)
    csrf = sign_in(client, "urbansteward")
    h = {"X-CSRF-Token": csrf}
    created = client.post("/api/v1/catalog/resources", json=_body(), headers=h)
    assert created.status_code == 201, created.text
    code = created.json()["code"]
    changed = client.patch(
        f"/api/v1/catalog/resources/{code}", json={"keywords": ["井盖"], "note": "精简"}, headers=h
    )
    assert changed.json()["version"] == 2
    diff = client.get(f"/api/v1/catalog/resources/{code}/diff", params={"from": 1, "to": 2}).json()
    assert diff["changes"] == [
        {"field": "keywords", "before": ["井盖", "市政设施"], "after": ["井盖"]}
    ]
    assert (
        client.post(f"/api/v1/catalog/resources/{code}/submit", headers=h).json()["status"]
        == "submitted"
    )

    csrf = sign_in(client, "bureausteward")
    h = {"X-CSRF-Token": csrf}
    wrong = client.post(f"/api/v1/catalog/resources/{code}/publish", headers=h)
    assert wrong.status_code == 409
    assert wrong.json()["error"]["field"] == "status"
    for action in ("approve", "register", "publish"):
        response = client.post(f"/api/v1/catalog/resources/{code}/{action}", json={}, headers=h)
        assert response.status_code == 200, response.text
    assert client.get(f"/api/v1/catalog/resources/{code}").json()["status"] == "published"
    assert [
        v["version"] for v in client.get(f"/api/v1/catalog/resources/{code}/versions").json()
    ] == [2, 1]
    assert client.post(f"/api/v1/catalog/resources/{code}/fly", headers=h).status_code == 404


def test_bad_metadata_gets_field_errors(client: TestClient, session: Session) -> None:
    catalog_people(session)
    h = {"X-CSRF-Token": sign_in(client, "urbansteward")}
    body = _body()
    body["items"] = []
    body["classification"] = "9"
    response = client.post("/api/v1/catalog/resources", json=body, headers=h)
    assert response.status_code == 422
    assert {f["field"] for f in response.json()["error"]["fields"]} == {"items", "classification"}
    unknown = client.post(
        "/api/v1/catalog/resources", json=_body(provider_unit_code="nope"), headers=h
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "provider_unit_code"


def test_viewers_read_but_do_not_register(client: TestClient, session: Session) -> None:
    catalog_people(session)
    h = {"X-CSRF-Token": sign_in(client, "reader")}
    assert client.get("/api/v1/catalog/resources").json() == {"total": 0, "resources": []}
    assert client.post("/api/v1/catalog/resources", json=_body(), headers=h).status_code == 403
