from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from tests.core.identity.factories import PASSWORD, make_user, sign_in
from tests.core.orgs.factories import make_small_city


def _key(client: TestClient, csrf: str, **body: object) -> str:
    response = client.post(
        "/api/v1/keys", json={"name": "k", **body}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["secret"])


def test_api_key_works_without_a_session_or_csrf(client: TestClient, session: Session) -> None:
    make_small_city(session)
    make_user(session, "admin", Role.platform_admin)
    secret = _key(client, sign_in(client, "admin"))
    client.cookies.clear()
    headers = {"Authorization": f"Bearer {secret}"}
    me = client.get("/api/v1/me", headers=headers).json()
    assert me["via"] == "api_key"
    assert me["username"] == "admin"
    created = client.post(
        "/api/v1/units", json={"code": "x.y", "name": "X", "region_code": "350100"}, headers=headers
    )
    assert created.status_code == 201
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer cb_nope_nope"})
    assert bad.status_code == 401
    assert bad.json()["error"]["field"] == "authorization"
    assert bad.headers["www-authenticate"] == "Bearer"


def test_scoped_key_is_limited(client: TestClient, session: Session) -> None:
    make_small_city(session)
    make_user(session, "admin", Role.platform_admin)
    secret = _key(client, sign_in(client, "admin"), scopes=["orgs:read"])
    client.cookies.clear()
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/units", headers=headers).status_code == 200
    forbidden = client.post(
        "/api/v1/units", json={"code": "x.y", "name": "X", "region_code": "350100"}, headers=headers
    )
    assert forbidden.status_code == 403


def test_keys_are_made_from_a_session_only(client: TestClient, session: Session) -> None:
    make_user(session, "sup", Role.supervisor)
    secret = _key(client, sign_in(client, "sup"))
    client.cookies.clear()
    response = client.post(
        "/api/v1/keys", json={"name": "again"}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 403


def test_users_api(client: TestClient, session: Session) -> None:
    make_small_city(session)
    make_user(session, "uadmin", Role.unit_admin, unit="fz.urban")
    make_user(session, "other", Role.viewer, unit="fz.bigdata")
    csrf = sign_in(client, "uadmin")
    headers = {"X-CSRF-Token": csrf}
    listed = client.get("/api/v1/users").json()
    assert [u["username"] for u in listed] == ["uadmin"]  # only their own unit
    created = client.post(
        "/api/v1/users",
        json={"username": "clerk", "display_name": "Clerk", "password": PASSWORD,
              "unit_code": "fz.urban", "roles": ["case_handler"]},
        headers=headers,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    short = client.post(
        "/api/v1/users",
        json={"username": "Bad Name", "display_name": "x", "password": "short"},
        headers=headers,
    )
    assert short.status_code == 422
    fields = {f["field"] for f in short.json()["error"]["fields"]}
    assert fields == {"username", "password"}
    other_id = next(u for u in client.get("/api/v1/users", params={"q": "clerk"}).json())["id"]
    assert client.get(f"/api/v1/users/{other_id}").status_code == 200


def test_roles_endpoint(client: TestClient, session: Session) -> None:
    make_user(session, "vic", Role.viewer)
    sign_in(client, "vic")
    roles = client.get("/api/v1/roles").json()
    assert set(roles["roles"]) == {r.value for r in Role}
    assert "orgs:read" in roles["roles"]["viewer"]
