from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from tests.core.identity.factories import make_user, sign_in
from tests.core.orgs.factories import make_small_city


def test_reading_needs_a_signed_in_user(client: TestClient, session: Session) -> None:
    make_small_city(session)
    response = client.get("/api/v1/units")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_regions_and_units_api(client: TestClient, session: Session) -> None:
    make_small_city(session)
    make_user(session, "viewer", Role.viewer)
    sign_in(client, "viewer")
    districts = client.get("/api/v1/regions", params={"level": "district"}).json()
    assert [r["code"] for r in districts] == ["350102", "350103"]
    detail = client.get("/api/v1/regions/350102").json()
    assert [p["code"] for p in detail["path"]] == ["350100"]
    assert [c["code"] for c in detail["children"]] == ["350102001"]
    units = client.get("/api/v1/units", params={"region": "350100", "subregions": True}).json()
    assert len(units) == 3
    assert client.get("/api/v1/units/gl.urban").json()["counterpart_code"] == "fz.urban"
    missing = client.get("/api/v1/units/nope")
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": "not_found",
        "message": "no unit with code nope",
        "field": "code",
    }


def test_writing_needs_orgs_write(client: TestClient, session: Session) -> None:
    make_small_city(session)
    make_user(session, "viewer", Role.viewer)
    csrf = sign_in(client, "viewer")
    response = client.post(
        "/api/v1/units",
        json={"code": "x.y", "name": "x", "region_code": "350100"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 403


def test_admin_creates_and_updates_a_unit(client: TestClient, session: Session) -> None:
    make_small_city(session)
    make_user(session, "admin", Role.platform_admin)
    csrf = sign_in(client, "admin")
    headers = {"X-CSRF-Token": csrf}
    created = client.post(
        "/api/v1/units",
        json={"code": "tj.urban", "name": "台江区城管局", "region_code": "350103",
              "counterpart_code": "fz.urban"},
        headers=headers,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    updated = client.patch(
        "/api/v1/units/tj.urban", json={"short_name": "台江城管"}, headers=headers
    )
    assert updated.json()["short_name"] == "台江城管"
    duplicate = client.post(
        "/api/v1/units", json={"code": "tj.urban", "name": "x", "region_code": "350103"},
        headers=headers,
    )  # fmt: skip
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["field"] == "code"
    bad = client.post(
        "/api/v1/regions", json={"code": "3501", "name": "x", "level": "district",
                                 "parent_code": "350100"}, headers=headers,
    )  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "code"


def test_cookie_writes_without_csrf_are_refused(client: TestClient, session: Session) -> None:
    make_small_city(session)
    make_user(session, "admin", Role.platform_admin)
    sign_in(client, "admin")
    response = client.patch("/api/v1/units/fz.urban", json={"short_name": "x"})
    assert response.status_code == 403
    assert response.json()["error"]["field"] == "csrf_token"


def test_import_endpoint_reports_rows(client: TestClient, session: Session) -> None:
    make_small_city(session)
    make_user(session, "admin", Role.platform_admin)
    csrf = sign_in(client, "admin")
    bad = "code,name,level,kind,parent\n350104,仓山区,district,市辖区,350100\n35010,x,district,,350100\n"
    response = client.post(
        "/api/v1/orgs/import",
        files={"file": ("r.csv", bad.encode(), "text/csv")},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["details"]["problems"][0]["row"] == 3
    assert "nothing was imported" in error["message"]
    good = "code,name,level,kind,parent\n350104,仓山区,district,市辖区,350100\n"
    response = client.post(
        "/api/v1/orgs/import",
        files={"file": ("r.csv", good.encode(), "text/csv")},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 200
    assert response.json()[0]["created"] == 1
