"""Revenue reports (有偿使用收入报表): paid use summed by product, provider, scenario and
customer over a period, free (公益) use apart, refusals never charged; the bureau reads the
city, a provider its own products', a customer nothing; the period is checked; the report
downloads as CSV and Excel and shows on the console."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.errors import Forbidden, InvalidInput
from citybase.core.identity import service as identity
from citybase.core.settings import Settings
from citybase.core.tables import read_sheets
from citybase.data.masking import operators as ops
from citybase.data.products import service
from citybase.data.products.models import ProductDelivery
from citybase.data.products.schemas import DeliveryAsk, DeliveryPage
from citybase.data.sharing.schemas import ReadContext
from tests.core.identity.factories import sign_in
from tests.data.products.factories import (
    ProductsCity,
    add_customers,
    contract_for,
    listed_product,
    products_city,
)

KEYS = ops.keys_for("00" * 32)


def _deliver(session: Session, city: ProductsCity, contract_id: int, customer: str,
             *limits: int) -> None:  # fmt: skip
    """Deliveries of ``limits`` rows each (0: one refused, asked for another purpose)."""
    key = service.issue_contract_key(session, city.people[customer], city.settings,
                                     contract_id)  # fmt: skip
    holder = identity.principal_from_api_key(session, key.secret)
    assert holder is not None
    for limit in limits:
        purpose = "城市治理" if limit else "精准营销"
        result = service.deliver(session, holder, KEYS, contract_id, ReadContext(purpose=purpose),
                                 DeliveryAsk(limit=limit or 1))  # fmt: skip
        assert isinstance(result, DeliveryPage) == bool(limit)


def _city(session: Session, settings: Settings) -> ProductsCity:
    """op.alpha's per-call product (0.50 a call) used by cu.gamma: 3 and 2 rows, one refusal;
    its free product used by cu.delta: 4 rows."""
    city = products_city(session, settings)
    add_customers(session, city)
    paid = listed_product(session, city)
    free = listed_product(session, city, name="井盖公益查询接口", price_model="free",
                          price_yuan="0")  # fmt: skip
    _deliver(session, city, contract_for(session, city, paid), "cua", 3, 2, 0)
    _deliver(session, city, contract_for(session, city, free, customer="cud"), "cud", 4)
    return city


def _this_month() -> service.Period:
    return service.parse_period()


def test_the_bureau_reads_the_city_s_paid_use_four_ways_and_free_use_apart(
    session: Session, settings: Settings
) -> None:
    city = _city(session, settings)
    report = service.revenue_report(session, city.bureau, settings.products, _this_month())
    assert report.scope == "city"
    total = report.total
    assert (total.calls, total.rows, total.amount_yuan) == (2, 5, Decimal("1.00"))
    assert (total.free_calls, total.free_rows, total.refused) == (1, 4, 1)
    assert total.bytes > 0
    assert total.free_bytes > 0
    assert [(x.name, x.amount_yuan, x.free_rows) for x in report.by_product] == [
        ("井盖巡查数据接口", Decimal("1.00"), 0),
        ("井盖公益查询接口", Decimal("0.00"), 4),
    ]
    assert [(x.key, x.name, x.calls, x.free_calls) for x in report.by_provider] == [
        ("op.alpha", "福州数据运营有限公司", 2, 1)
    ]
    assert [(x.key, x.amount_yuan) for x in report.by_customer] == [
        ("cu.gamma", Decimal("1.00")),
        ("cu.delta", Decimal("0.00")),
    ]
    assert [(x.key, x.calls + x.free_calls) for x in report.by_scenario] == [("井盖巡查", 3)]
    # another period holds none of it
    empty = service.revenue_report(session, city.bureau, settings.products,
                                   service.parse_period("2020"))  # fmt: skip
    assert empty.by_product == []
    assert empty.total.calls == 0


def test_a_provider_reads_its_own_products_only_and_a_customer_none(
    session: Session, settings: Settings
) -> None:
    city = _city(session, settings)
    s = settings.products
    own = service.revenue_report(session, city.people["opa"], s, _this_month())
    assert own.scope == "op.alpha"
    assert own.total.amount_yuan == Decimal("1.00")
    other = service.revenue_report(session, city.people["opb"], s, _this_month())
    assert other.scope == "op.beta"
    assert (other.by_product, other.by_customer, other.total.calls) == ([], [], 0)
    steward = service.revenue_report(session, city.people["urbansteward"], s, _this_month())
    assert steward.scope == "fz.urban"
    assert steward.by_product == []
    for customer in ("cua", "cud"):
        with pytest.raises(Forbidden):
            service.revenue_report(session, city.people[customer], s, _this_month())


def test_a_monthly_subscription_is_charged_once_in_each_month_of_the_period(
    session: Session, settings: Settings
) -> None:
    city = products_city(session, settings)
    add_customers(session, city)
    product = listed_product(session, city, price_model="monthly", price_yuan="300.00")
    _deliver(session, city, contract_for(session, city, product), "cua", 1, 1, 1)
    first, second, third = session.query(ProductDelivery).order_by(ProductDelivery.id).all()
    first.at = datetime(2026, 10, 15, 2, tzinfo=UTC)
    second.at = datetime(2026, 11, 20, 2, tzinfo=UTC)
    third.at = datetime(2026, 11, 21, 2, tzinfo=UTC)
    session.flush()
    s = settings.products
    quarter = service.revenue_report(session, city.bureau, s, service.parse_period("2026-Q4"))
    assert (quarter.total.calls, quarter.total.amount_yuan) == (3, Decimal("600.00"))
    november = service.revenue_report(session, city.bureau, s, service.parse_period("2026-11"))
    assert november.total.amount_yuan == Decimal("300.00")
    days = service.revenue_report(session, city.bureau, s,
                                  service.parse_period("", "2026-10-01", "2026-10-31"))  # fmt: skip
    assert (days.total.calls, days.total.amount_yuan) == (1, Decimal("300.00"))
    # the cockpit's figure: the same over the same instants
    start = datetime(2026, 9, 30, 16, tzinfo=UTC)  # 1 October in Fuzhou
    assert service.paid_revenue(session, start, datetime(2026, 12, 31, 16, tzinfo=UTC)) == (
        Decimal("600.00"))  # fmt: skip
    assert service.paid_revenue(session, start, start + timedelta(days=20)) == Decimal("300.00")
    assert service.paid_revenue(session, start, start) == Decimal("0.00")


def test_periods_are_read_and_a_bad_one_names_its_field() -> None:
    assert service.parse_period("2026-Q1").last == date(2026, 3, 31)
    assert service.parse_period("2026-q4").first == date(2026, 10, 1)
    assert service.parse_period("2024-02").last == date(2024, 2, 29)
    assert service.parse_period("2026").last == date(2026, 12, 31)
    assert service.parse_period().first == clock.today().replace(day=1)
    for args, where in (
        (("2026-Q5",), "period"), (("2026-13",), "period"), (("26",), "period"),
        (("1999",), "period"), (("", "2026-12-01", ""), "to"), (("", "", "2026-12-01"), "from"),
        (("", "2026-12-31", "2026-12-01"), "to"), (("", "2026-02-30", "2026-03-01"), "from"),
        (("2026", "2026-12-01", "2026-12-02"), "period"), (("", "2000-01-01", "2026-01-01"), "to"),
    ):  # fmt: skip
        with pytest.raises(InvalidInput) as caught:
            service.parse_period(*args)
        assert caught.value.field == where, args


def test_the_api_and_its_downloads_and_who_may_call_them(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    _city(session, settings)
    app.state.settings.products.bureau_unit = "fz.bigdata"
    assert client.get("/api/v1/products/revenue").status_code == 401
    assert client.get("/api/v1/products/revenue.csv").status_code == 401
    client.headers["X-CSRF-Token"] = sign_in(client, "cua")  # a customer: nothing
    for path in ("/api/v1/products/revenue", "/api/v1/products/revenue.csv",
                 "/api/v1/products/revenue.xlsx"):  # fmt: skip
        refused = client.get(path)
        assert refused.status_code == 403
        assert "井盖" not in refused.text
    client.headers["X-CSRF-Token"] = sign_in(client, "opb")  # another operator: its own, none
    theirs = client.get("/api/v1/products/revenue").json()
    assert theirs["scope"] == "op.beta"
    assert theirs["by_product"] == []
    assert "井盖" not in client.get("/api/v1/products/revenue.csv").content.decode()
    client.headers["X-CSRF-Token"] = sign_in(client, "bureausteward")
    found = client.get("/api/v1/products/revenue", params={"period": _this_month().label})
    assert found.status_code == 200
    assert found.json()["total"]["amount_yuan"] == "1.00"
    bad = client.get("/api/v1/products/revenue", params={"period": "2026-Q9"})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "period"
    assert client.get("/api/v1/products/revenue", params={"from": "2026-12-01"}).json()[
        "error"]["field"] == "to"  # fmt: skip
    assert client.get("/api/v1/products/revenue.pdf").status_code == 422
    table = client.get("/api/v1/products/revenue.csv")
    assert table.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(table.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["维度", "代码", "名称"]
    assert [rows[1][0], rows[1][2], rows[1][6]] == ["按数据产品", "井盖巡查数据接口", "1.00"]
    assert rows[-1][0] == "合计"
    assert rows[-1][6] == "1.00"
    assert rows[-1][7] == "1"
    book = client.get("/api/v1/products/revenue.xlsx")
    sheets = read_sheets("revenue.xlsx", book.content)
    assert set(sheets) == {"按数据产品", "按提供单位", "按应用场景", "按需方"}
    assert sheets["按需方"][1][:2] == ["cu.gamma", "榕城物流科技有限公司"]


def test_the_console_page_for_the_bureau_and_for_a_customer(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    _city(session, settings)
    app.state.settings.products.bureau_unit = "fz.bigdata"
    client.headers["X-CSRF-Token"] = sign_in(client, "bureausteward")
    page = client.get("/console/products/revenue")
    assert page.status_code == 200
    assert "有偿使用收入" in page.text
    assert "井盖巡查数据接口" in page.text
    assert '<svg class="chart"' in page.text
    assert "按提供单位的收入" in page.text
    assert "榕城物流科技有限公司" in page.text
    assert "/api/v1/products/revenue.xlsx" in page.text
    bad = client.get("/console/products/revenue", params={"period": "nonsense"})
    assert bad.status_code == 200
    assert 'role="alert"' in bad.text
    client.headers["X-CSRF-Token"] = sign_in(client, "cua")
    refused = client.get("/console/products/revenue")
    assert refused.status_code == 403
    assert "井盖巡查数据接口" not in refused.text


def test_the_cockpit_counts_contracts_in_force_and_this_year_s_paid_revenue(
    session: Session, settings: Settings
) -> None:
    from citybase.cockpit.indicators.measures import MEASURES, Window, scale, value_of

    _city(session, settings)
    now = datetime.now(clock.CITY_TZ) + timedelta(seconds=1)
    window = Window.of_month(now.strftime("%Y-%m"), now)
    contracts, revenue = MEASURES["data.products.contracts"], MEASURES["data.products.revenue"]
    assert contracts.count(session, window) == 2.0
    assert revenue.count(session, window) == 1.0  # the free product's use earns nothing
    assert scale(revenue, "万元") == 1e4
    assert scale(revenue, "个") is None
    assert value_of(session, "data.products.revenue", "万元", window) == 0.0001
    assert value_of(session, "data.products.contracts", "份", window) == 2.0
    before = Window.of_month("2020-01")
    assert contracts.count(session, before) == 0.0
    assert revenue.count(session, before) == 0.0
