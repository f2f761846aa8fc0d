from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from tests.core.identity.factories import make_user, sign_in
from tests.core.orgs.factories import make_small_city


def _admin(client: TestClient, session: Session) -> dict[str, str]:
    make_small_city(session)
    make_user(session, "admin", Role.platform_admin)
    return {"X-CSRF-Token": sign_in(client, "admin"), "Content-Type": "application/json"}


def test_malformed_json_is_a_400(client: TestClient, session: Session) -> None:
    response = client.post("/api/v1/units", content=b'{"code": ', headers=_admin(client, session))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


def test_validation_errors_name_every_field(client: TestClient, session: Session) -> None:
    response = client.post("/api/v1/units", json={"code": "!"}, headers=_admin(client, session))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert {f["field"] for f in error["fields"]} == {"code", "name", "region_code"}
    assert error["message"].startswith(error["field"])


def test_bad_query_parameter(client: TestClient, session: Session) -> None:
    _admin(client, session)
    response = client.get("/api/v1/regions", params={"level": "planet"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "level"


def test_unknown_routes_and_methods(client: TestClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = client.delete("/healthz")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    page = client.get("/nothing-here", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert "<html" in page.text


def test_forbidden_console_page_renders_a_page(client: TestClient, session: Session) -> None:
    make_user(session, "view", Role.viewer)
    sign_in(client, "view")
    page = client.get("/console/users", headers={"Accept": "text/html"})
    assert page.status_code == 403
    assert "users:read" in page.text


def test_a_fault_of_ours_under_ngsi_ld_is_problem_details(app, session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A 500 under /ngsi-ld is ProblemDetails, never a stack trace nor another API's shape."""
    from citybase.perception.context import discovery as context

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a fault of ours")

    monkeypatch.setattr(context, "types_and_attributes", broken)
    make_small_city(session)
    make_user(session, "reader", Role.platform_admin)
    with TestClient(app, raise_server_exceptions=False) as client:
        sign_in(client, "reader")
        answer = client.get("/ngsi-ld/v1/types")
    assert answer.status_code == 500
    body = answer.json()
    assert body["type"] == "https://uri.etsi.org/ngsi-ld/errors/InternalError"
    assert body["status"] == 500
    assert "fault" not in answer.text
