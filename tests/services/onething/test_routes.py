"""The one-thing API and console pages: errors as JSON on the API and in Chinese on the pages;
the boundaries between applicants, units and nobody."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.settings import Settings
from citybase.core.workdays import DEFAULT, WorkCalendar
from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import Action, ActionIn
from citybase.services.onething import service
from tests.core.identity.factories import sign_in
from tests.services.onething.factories import OneThingCity, onething_city
from tests.services.onething.test_service import PNG


@pytest.fixture
def city(session: Session, settings: Settings) -> OneThingCity:
    return onething_city(session, settings)


def _upload(client: TestClient, headers: dict[str, str]) -> str:
    response = client.post("/api/v1/onething/files", headers=headers,
                           files={"file": ("photo.png", PNG, "image/png")})  # fmt: skip
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _submit(client: TestClient, headers: dict[str, str]) -> dict:  # type: ignore[type-arg]
    photo = _upload(client, headers)
    response = client.post("/api/v1/onething/applications", headers=headers, json={
        "item_code": "test.thing", "consent": True, "values": {"办理事由": "开店"},
        "materials": {"photo": photo, "licence": photo},
    })  # fmt: skip
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_errors_are_json_naming_the_field(client: TestClient, city: OneThingCity) -> None:
    headers = {"X-CSRF-Token": sign_in(client, "zhangsan")}
    unknown = client.post("/api/v1/onething/applications", headers=headers,
                          json={"item_code": "no.such", "consent": True})  # fmt: skip
    assert unknown.status_code == 404
    assert unknown.json()["error"]["field"] == "item_code"
    missing = client.post("/api/v1/onething/applications", headers=headers,
                          json={"item_code": "test.thing", "consent": True})  # fmt: skip
    assert missing.status_code == 422
    error = missing.json()["error"]
    assert "缺少材料" in error["message"]
    assert {p["field"] for p in error["details"]["problems"]} >= {
        "materials.photo",
        "values.办理事由",
    }
    form = client.post("/api/v1/onething/items/test.thing/form", headers=headers,
                       json={"consent": True})  # fmt: skip
    assert form.status_code == 200
    assert form.json()["prefilled"] == 5


def test_a_cycle_is_refused_on_the_api_and_the_page(
    client: TestClient, session: Session, city: OneThingCity, form_token
) -> None:  # type: ignore[no-untyped-def]
    headers = {"X-CSRF-Token": sign_in(client, "bureausteward")}
    item = client.get("/api/v1/onething/items/test.thing", headers=headers).json()
    spec = item["spec"]
    spec["matters"][0]["needs"] = ["second"]
    refused = client.put("/api/v1/onething/items/test.thing", headers=headers, json=spec)
    assert refused.status_code == 422
    assert "first → second → first" in refused.json()["error"]["message"]
    page = client.post("/console/onething/items/test.thing", data={
        "csrf_token": headers["X-CSRF-Token"], "form_token": form_token(),
        "yaml": service.item_yaml(service.get_item(session, "test.thing")).replace(
            "needs:\n  - first", "needs:\n  - second"),
    })  # fmt: skip
    assert page.status_code == 422
    page = client.get("/console/onething/items/test.thing")
    assert "办理阶段" in page.text
    assert "测试一件事" in page.text


def test_an_applicant_sees_only_his_own_and_nobody_sees_any(
    client: TestClient, session: Session, city: OneThingCity
) -> None:
    app = _submit(client, {"X-CSRF-Token": sign_in(client, "zhangsan")})
    number = app["number"]
    assert client.get(f"/onething/applications/{number}").status_code == 200
    assert client.get("/api/v1/onething/applications/mine").json()[0]["number"] == number
    client.cookies.clear()
    sign_in(client, "lisi")
    assert client.get(f"/api/v1/onething/applications/{number}").status_code == 404
    assert client.get(f"/onething/applications/{number}").status_code == 404
    assert client.get("/api/v1/onething/applications/mine").json() == []
    client.cookies.clear()
    assert client.get(f"/api/v1/onething/applications/{number}").status_code == 401
    assert client.get("/api/v1/onething/applications/mine").status_code == 401
    assert client.get(f"/onething/applications/{number}", follow_redirects=False).status_code in (
        303, 401)  # fmt: skip


def test_a_unit_handles_only_its_own_matters_case(
    client: TestClient, session: Session, city: OneThingCity
) -> None:
    app = _submit(client, {"X-CSRF-Token": sign_in(client, "zhangsan")})
    case = app["matters"][0]["case_number"]
    client.cookies.clear()
    urban = {"X-CSRF-Token": sign_in(client, "urbanhandler")}
    sign = client.post(f"/api/v1/hub/cases/{case}/actions/sign", headers=urban, json={})
    assert sign.status_code in (403, 404)
    assert cases.get_for_system(session, case).state == "dispatched"
    part = client.get(f"/api/v1/onething/applications/{app['number']}").json()
    assert "违法事由" in part["form"]
    assert "办理事由" not in part["form"]
    client.cookies.clear()
    health = {"X-CSRF-Token": sign_in(client, "healthhandler")}
    assert client.post(f"/api/v1/hub/cases/{case}/actions/sign", headers=health,
                       json={}).status_code == 200  # fmt: skip
    seen = client.get(f"/api/v1/onething/applications/{app['number']}").json()
    assert "办理事由" in seen["form"]
    assert "违法事由" not in seen["form"]
    assert client.get(f"/console/onething/applications/{app['number']}").status_code == 200


def test_the_applicants_pages_apply_with_one_form_in_chinese(
    client: TestClient, session: Session, city: OneThingCity, form_token
) -> None:  # type: ignore[no-untyped-def]
    token = sign_in(client, "zhangsan")
    home = client.get("/onething")
    assert home.status_code == 200
    assert "测试一件事" in home.text
    assert "同意授权" in client.get("/onething/items/test.thing/apply").text
    form = client.post("/onething/items/test.thing/form", data={"csrf_token": token,
                                                                "consent": "yes"})  # fmt: skip
    assert form.status_code == 200
    assert "基础库" in form.text
    assert city.number in form.text
    once = form_token()
    bad = client.post("/onething/items/test.thing/submit",
                      data={"csrf_token": token, "form_token": once})  # fmt: skip
    assert bad.status_code == 422
    assert "缺少材料" in bad.text
    assert "请填写「办理事由」" in bad.text
    sent = {"data": {"csrf_token": token, "value.办理事由": "开店", "form_token": once},
            "files": {"material.photo": ("p.png", PNG, "image/png"),
                      "material.licence": ("l.png", PNG, "image/png")}}  # fmt: skip
    done = client.post("/onething/items/test.thing/submit", follow_redirects=False, **sent)
    assert done.status_code == 303, done.text
    # sent again (a double click, a reload): the first application, not a second
    again = client.post("/onething/items/test.thing/submit", follow_redirects=False, **sent)
    assert again.headers["location"] == done.headers["location"]
    mine = client.get("/api/v1/onething/applications/mine").json()
    assert len([a for a in mine if a["item_code"] == "test.thing"]) == 1
    page = client.get(done.headers["location"])
    assert "办理中" in page.text
    assert "健康登记" in page.text


def test_the_catalog_page_shows_the_prefill_share(
    client: TestClient, session: Session, city: OneThingCity
) -> None:
    _submit(client, {"X-CSRF-Token": sign_in(client, "zhangsan")})
    client.cookies.clear()
    sign_in(client, "bureausteward")
    page = client.get("/console/onething")
    assert "一件事清单" in page.text
    assert "83%" in page.text


def test_the_api_counts_a_matters_deadlines_on_the_citys_calendar_file(
    client: TestClient, session: Session, settings: Settings, city: OneThingCity
) -> None:
    """Submitted and supplemented through the API, a matter's case counts its working days on
    ``<home>/calendar.yaml`` (the next two weeks declared holidays), not on the built-in one."""
    today = clock.today()
    settings.home.mkdir(parents=True, exist_ok=True)
    path = settings.home / "calendar.yaml"
    holidays = ", ".join((today + timedelta(days=n)).isoformat() for n in range(-1, 15))
    path.write_text(f"holidays: [{holidays}]\n", encoding="utf-8")
    city_cal = WorkCalendar.from_file(path)
    headers = {"X-CSRF-Token": sign_in(client, "zhangsan")}
    app = _submit(client, headers)
    number = app["matters"][0]["case_number"]
    case = cases.get_for_system(session, number)
    assert case.dispatched_at is not None
    assert case.handle_due == city_cal.add(case.dispatched_at, 5 * 24)
    assert case.handle_due != DEFAULT.add(case.dispatched_at, 5 * 24)
    health = cases.Mover.of(session, city.health)
    cases.act(session, health, number, Action.sign, ActionIn())
    cases.act(session, health, number, Action.return_, ActionIn(note="请补充照片"))
    service.on_case_changed(session, number, "return", cal=city_cal)
    given = client.post(f"/api/v1/onething/applications/{app['number']}/matters/first/supplement",
                        headers=headers, json={"note": "已补充"})  # fmt: skip
    assert given.status_code == 200, given.text
    again = cases.get_for_system(session, number)
    assert again.state == "dispatched"
    assert again.dispatched_at is not None
    assert again.handle_due == city_cal.add(again.dispatched_at, 5 * 24)
    assert again.handle_due != DEFAULT.add(again.dispatched_at, 5 * 24)
