"""The products API and console through HTTP: access declared per route, refusals in the API's
error format naming the rule, and nothing crossing from one company or unit to another."""

from __future__ import annotations

from urllib.parse import unquote

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.settings import Settings
from citybase.data.products.models import DataProduct
from tests.core.identity.factories import sign_in
from tests.data.products.factories import listed_product, product_data, products_city


def _body(city, **overrides):  # type: ignore[no-untyped-def]
    return product_data(city, **overrides).model_dump(mode="json")


def test_anonymous_callers_get_nothing(
    client: TestClient, session: Session, settings: Settings
) -> None:
    products_city(session, settings)
    for path in ("/api/v1/products/agreements", "/api/v1/products/catalog", "/api/v1/products",
                 "/api/v1/products/assets", "/api/v1/products/scenarios"):  # fmt: skip
        assert client.get(path).status_code == 401, path
    for path in ("/console/products", "/console/products/agreements", "/console/products/review",
                 "/console/products/assets"):  # fmt: skip
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code in (302, 303, 401), path
        assert "/login" in answer.headers.get("location", "/login"), path


def test_an_operator_registers_through_the_api_and_a_refusal_names_the_rule(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    city = products_city(session, settings)
    app.state.settings.products.bureau_unit = "fz.bigdata"
    client.headers["X-CSRF-Token"] = sign_in(client, "opa")
    made = client.post("/api/v1/products", json=_body(city))
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "submitted"
    count = session.scalar(select(func.count()).select_from(DataProduct))
    refused = client.post("/api/v1/products", json=_body(
        city, kind="dataset", source_codes=[city.personal.code]))  # fmt: skip
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["details"]["rule"] == "product.grade_delivery"
    assert error["field"] == "kind"
    bad = client.post("/api/v1/products", json={**_body(city), "price_yuan": "-1"})
    assert bad.status_code == 422
    assert "error" in bad.json()
    assert session.scalar(select(func.count()).select_from(DataProduct)) == count


def test_a_customer_sees_listed_products_only(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    city = products_city(session, settings)
    app.state.settings.products.bureau_unit = "fz.bigdata"
    listed = listed_product(session, city)
    from citybase.data.products import service

    pending = service.register_product(session, city.people["opa"],
                                       product_data(city, name="井盖待审接口")).id  # fmt: skip
    client.headers["X-CSRF-Token"] = sign_in(client, "healthuser")
    assert client.get(f"/api/v1/products/{listed}").status_code == 200
    assert client.get(f"/api/v1/products/{pending}").status_code == 404
    found = client.get("/api/v1/products/catalog", params={"q": "井盖"}).json()
    assert [p["id"] for p in found["products"]] == [listed]
    page = client.get("/console/products", params={"q": "井盖"})
    assert page.status_code == 200
    assert "井盖巡查数据接口" in page.text
    assert "井盖待审接口" not in page.text
    assert client.get(f"/console/products/{pending}").status_code == 404
    # a customer does not approve or list
    assert client.post(f"/api/v1/products/{pending}/review",
                       json={"approve": True, "reason": "自批"}).status_code == 403  # fmt: skip


def test_operator_b_cannot_touch_operator_a_s_product_or_agreement(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    city = products_city(session, settings)
    app.state.settings.products.bureau_unit = "fz.bigdata"
    listed = listed_product(session, city)
    client.headers["X-CSRF-Token"] = sign_in(client, "opb")
    assert client.post(f"/api/v1/products/{listed}/delist",
                       json={"reason": "恶意"}).status_code == 403  # fmt: skip
    assert client.get(f"/api/v1/products/agreements/{city.agreement.id}").status_code == 404
    assert client.post(f"/api/v1/products/agreements/{city.agreement.id}/sign",
                       json={"reason": "抢签"}).status_code == 404  # fmt: skip
    assert client.get("/api/v1/products/agreements").json() == []
    assert session.get(DataProduct, listed).status == "listed"  # type: ignore[union-attr]


def test_the_bureau_s_console_pages_open_in_chinese(
    client: TestClient, session: Session, settings: Settings, app, form_token
) -> None:  # type: ignore[no-untyped-def]
    city = products_city(session, settings)
    app.state.settings.products.bureau_unit = "fz.bigdata"
    product = listed_product(session, city)
    csrf = sign_in(client, "bureausteward")
    for path, text in (("/console/products", "数据产品"), ("/console/products/agreements", "授权运营协议"),
                       ("/console/products/review", "待审核"), ("/console/products/scenarios", "应用场景"),
                       ("/console/products/assets", "数据资产"), (f"/console/products/{product}", "合规检查"),
                       ("/console/products/mine", "登记数据产品")):  # fmt: skip
        page = client.get(path)
        assert page.status_code == 200, path
        assert text in page.text, path
    # the bureau delists from the product page; the form comes back saved
    form = {"csrf_token": csrf, "reason": "到期", "form_token": form_token()}
    answer = client.post(f"/console/products/{product}/delist", data=form, follow_redirects=False)
    assert answer.status_code == 303
    assert "saved=1" in answer.headers["location"]
    assert session.get(DataProduct, product).status == "delisted"  # type: ignore[union-attr]
    # sent twice (a double click), it lands where the first did: no "already delisted" error
    twice = client.post(f"/console/products/{product}/delist", data=form, follow_redirects=False)
    assert twice.status_code == 303
    assert twice.headers["location"] == answer.headers["location"]
    # a unit steward sees the queue page but no product of another unit in it
    sign_in(client, "urbansteward")
    page = client.get("/console/products/review")
    assert page.status_code == 200
    assert "井盖巡查数据接口" not in page.text


def test_forms_register_a_product_and_grant_an_agreement(
    client: TestClient, session: Session, settings: Settings, app, form_token
) -> None:  # type: ignore[no-untyped-def]
    city = products_city(session, settings)
    app.state.settings.products.bureau_unit = "fz.bigdata"
    csrf = sign_in(client, "opa")
    form = {"csrf_token": csrf, "name": "井盖统计报告", "kind": "report", "update_cycle": "monthly",
            "source_codes": f"{city.manholes.code}", "price_model": "free", "price_yuan": "0",
            "agreement_number": city.agreement.number, "sector": "城市治理",
            "form_token": form_token()}  # fmt: skip
    answer = client.post("/console/products/mine", data=form, follow_redirects=False)
    assert "saved=1" in answer.headers["location"]
    twice = client.post("/console/products/mine", data=form, follow_redirects=False)
    assert "saved=1" in twice.headers["location"]  # the same form again: made once
    refused = client.post("/console/products/mine", follow_redirects=False, data={
        **form, "source_codes": f"{city.manholes.code}、{city.outside.code}",
        "form_token": form_token()})  # fmt: skip
    assert "product.sources_in_agreement" in unquote(refused.headers["location"])
    page = client.get("/console/products/mine")
    assert page.text.count("井盖统计报告") == 1
    csrf = sign_in(client, "bureausteward")
    granted = client.post("/console/products/agreements", follow_redirects=False, data={
        "csrf_token": csrf, "title": "第二份协议", "operator_unit_code": "op.beta",
        "themes": "交通运输", "purposes": "交通出行服务", "starts_on": "2026-01-01",
        "ends_on": "2028-12-31", "security_duties": "数据不出域", "price_policy": "priced",
        "form_token": form_token()})  # fmt: skip
    assert "saved=1" in granted.headers["location"]
    assert "第二份协议" in client.get("/console/products/agreements").text
