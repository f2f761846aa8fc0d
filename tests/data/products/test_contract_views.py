"""The contracts console page: a customer asks from the product's page, each side takes its
step with a form, the key is shown once, and another company sees and moves nothing."""

from __future__ import annotations

from urllib.parse import unquote

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.settings import Settings
from citybase.data.products.models import ProductNegotiation
from tests.core.identity.factories import sign_in
from tests.data.products.factories import add_customers, days, listed_product, products_city


def test_a_contract_is_negotiated_on_the_console_in_chinese(
    client: TestClient, session: Session, settings: Settings, app, form_token
) -> None:  # type: ignore[no-untyped-def]
    city = products_city(session, settings)
    app.state.settings.products.bureau_unit = "fz.bigdata"
    add_customers(session, city)
    product_id = listed_product(session, city)
    csrf = sign_in(client, "cua")
    page = client.get(f"/console/products/{product_id}")
    assert "申请使用" in page.text
    assert "<option>城市治理</option>" in page.text
    asked = client.post(f"/console/products/contracts/request/{product_id}", follow_redirects=False,
                        data={"csrf_token": csrf, "purpose": "城市治理", "scenario": "井盖巡查",
                              "form_token": form_token()})  # fmt: skip
    assert "saved=1" in asked.headers["location"], unquote(asked.headers["location"])
    nid = session.query(ProductNegotiation).one().id
    assert "已请求" in client.get("/console/products/contracts").text

    def step(who: str, action: str, **form: str) -> str:
        token = sign_in(client, who)
        sent = client.post(f"/console/products/negotiations/{nid}/{action}",
                           data={"csrf_token": token, "form_token": form_token(), **form}, follow_redirects=False)  # fmt: skip
        return unquote(sent.headers.get("location", sent.text))

    # another company's user moves nothing, and sees nothing
    assert "not_found" in step("cud", "terminate", reason="越权")  # a 404, as for any other unit
    assert "井盖巡查数据接口" not in client.get("/console/products/contracts").text
    assert "error=" in step(
        "cua", "offer", ends_on=str(days(30)), reason="自拟"
    )  # not the provider's side
    assert "saved=1" in step("opa", "offer", ends_on=str(days(30)), max_calls="50", reason="报价")
    assert "saved=1" in step("cua", "accept")
    assert "saved=1" in step("opa", "agree", reason="同意")
    assert "saved=1" in step("cua", "verify")
    page = client.get("/console/products/contracts")
    assert "已生效" in page.text
    assert "履行中" in page.text
    contract_id = session.query(ProductNegotiation).one().contract_id
    shown = client.post(f"/console/products/contracts/{contract_id}/key",
                        data={"csrf_token": sign_in(client, "cua"), "form_token": form_token()})  # fmt: skip
    assert shown.status_code == 200
    assert "合同密钥只显示这一次" in shown.text
    assert "cb_" in shown.text
    client.cookies.set("citybase_lang", "en")
    english = client.get("/console/products/contracts")
    assert "Finalized" in english.text
    assert "In force" in english.text
