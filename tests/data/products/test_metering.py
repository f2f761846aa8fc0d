"""Metering and monthly statements: every delivery counted (calls, refusals, rows, bytes),
priced by the product's price policy, summed per contract for a customer or a provider over
the city's month; nobody reads another company's statement."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.errors import Forbidden, InvalidInput
from citybase.core.identity import service as identity
from citybase.core.settings import Settings
from citybase.data.masking import operators as ops
from citybase.data.products import service
from citybase.data.products.metering import month_bounds
from citybase.data.products.models import ProductDelivery
from citybase.data.products.schemas import DeliveryAsk, DeliveryPage, StatementSide
from citybase.data.sharing.schemas import ReadContext
from tests.core.identity.factories import sign_in
from tests.data.products.factories import (
    add_customers,
    contract_for,
    listed_product,
    products_city,
)

KEYS = ops.keys_for("00" * 32)


def _served(session: Session, settings: Settings, *limits: int, **product: Any):  # type: ignore[no-untyped-def]
    """A contract of cu.gamma for a product priced as asked, with deliveries of ``limits``
    rows each (0: one refused, asked for another purpose)."""
    city = products_city(session, settings)
    add_customers(session, city)
    product_id = listed_product(session, city, **product)
    contract_id = contract_for(session, city, product_id)
    key = service.issue_contract_key(session, city.people["cua"], settings, contract_id)
    holder = identity.principal_from_api_key(session, key.secret)
    assert holder is not None
    for limit in limits:
        purpose = "城市治理" if limit else "精准营销"
        result = service.deliver(session, holder, KEYS, contract_id, ReadContext(purpose=purpose),
                                 DeliveryAsk(limit=limit or 1))  # fmt: skip
        assert isinstance(result, DeliveryPage) == bool(limit)
    return city


def _month() -> str:
    return service.this_month()


def test_a_customer_and_its_provider_see_the_same_month_priced_per_call(
    session: Session, settings: Settings
) -> None:
    city = _served(session, settings, 3, 2, 0)
    s = settings.products
    mine = service.monthly_statement(
        session, city.people["cua"], s, _month(), StatementSide.customer
    )
    assert len(mine.lines) == 1
    line = mine.lines[0]
    assert (line.calls, line.refused, line.rows) == (2, 1, 5)
    assert line.amount_yuan == Decimal("1.00")  # two calls at 0.50
    assert mine.bytes > 0
    theirs = service.monthly_statement(
        session, city.people["opa"], s, _month(), StatementSide.provider
    )
    assert theirs.lines == mine.lines
    assert theirs.unit_code == "op.alpha"
    # nothing as a customer for the provider, nothing for another month
    assert service.monthly_statement(session, city.people["opa"], s, _month(),
                                     StatementSide.customer).lines == []  # fmt: skip
    assert service.monthly_statement(session, city.people["cua"], s, "2020-01",
                                     StatementSide.customer).lines == []  # fmt: skip


def test_per_row_and_monthly_prices(session: Session, settings: Settings) -> None:
    city = _served(session, settings, 3, 4, price_model="per_row", price_yuan="0.01")
    s = settings.products
    per_row = service.monthly_statement(
        session, city.people["cua"], s, _month(), StatementSide.customer
    )
    assert per_row.amount_yuan == Decimal("0.07")


def test_a_monthly_subscription_is_charged_once_a_month(
    session: Session, settings: Settings
) -> None:
    city = _served(session, settings, 1, 1, 1, price_model="monthly", price_yuan="300.00")
    s = settings.products
    statement = service.monthly_statement(
        session, city.people["cua"], s, _month(), StatementSide.customer
    )
    assert statement.calls == 3
    assert statement.amount_yuan == Decimal("300.00")


def test_nobody_reads_another_company_s_statement(session: Session, settings: Settings) -> None:
    city = _served(session, settings, 2)
    s = settings.products
    with pytest.raises(Forbidden):
        service.monthly_statement(session, city.people["cud"], s, _month(),
                                  StatementSide.customer, "cu.gamma")  # fmt: skip
    with pytest.raises(Forbidden):  # a customer's user is no provider's operator
        service.monthly_statement(session, city.people["cua"], s, _month(), StatementSide.provider)
    other = service.monthly_statement(
        session, city.people["cud"], s, _month(), StatementSide.customer
    )
    assert other.lines == []
    bureau = service.monthly_statement(session, city.bureau, s, _month(),
                                       StatementSide.customer, "cu.gamma")  # fmt: skip
    assert bureau.rows == 2


def test_the_month_is_the_city_s_and_a_bad_month_is_refused(
    session: Session, settings: Settings
) -> None:
    start, end = month_bounds("2026-12")
    assert start == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert end == datetime(2026, 12, 31, 16, tzinfo=UTC)
    assert month_bounds("2026-01")[0] == datetime(2025, 12, 31, 16, tzinfo=UTC)
    for bad in ("2026-13", "2026-1", "abc", "1999-12"):
        with pytest.raises(InvalidInput):
            month_bounds(bad)
    city = _served(session, settings, 2)
    record = session.query(ProductDelivery).one()
    record.at = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # 00:30 on 1 December in Fuzhou
    session.flush()
    december = service.monthly_statement(session, city.people["cua"], settings.products,
                                         "2026-12", StatementSide.customer)  # fmt: skip
    november = service.monthly_statement(session, city.people["cua"], settings.products,
                                         "2026-11", StatementSide.customer)  # fmt: skip
    assert (december.rows, november.rows) == (2, 0)


def test_statements_through_the_api_and_the_console(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    _served(session, settings, 3)
    app.state.settings.products.bureau_unit = "fz.bigdata"
    assert client.get("/api/v1/products/statements").status_code == 401
    client.headers["X-CSRF-Token"] = sign_in(client, "cua")
    answer = client.get("/api/v1/products/statements", params={"month": _month()})
    assert answer.status_code == 200
    assert answer.json()["rows"] == 3
    assert answer.json()["amount_yuan"] == "0.50"
    bad = client.get("/api/v1/products/statements", params={"month": "2026-13"})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "month"
    page = client.get("/console/products/statements")
    assert page.status_code == 200
    assert "数据产品账单" in page.text
    assert "井盖巡查数据接口" in page.text
    contract_id = client.get("/api/v1/products/contracts").json()[0]["id"]
    detail = client.get(f"/console/products/contracts/{contract_id}")
    assert "已交付" in detail.text
    assert "permission[0]" in detail.text


def test_a_statement_one_may_not_read_is_said_on_the_page(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    _served(session, settings, 1)
    client.headers["X-CSRF-Token"] = sign_in(client, "cua")
    page = client.get("/console/products/statements", params={"side": "provider"})
    assert page.status_code == 200
    assert 'role="alert"' in page.text
    assert "井盖巡查数据接口" not in page.text
