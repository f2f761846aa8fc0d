"""A listed product's sample rows: a handful, masked, traced as a sample read; never more than
the configured handful and never of data graded above what may be shown publicly."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.errors import Forbidden, InvalidInput, NotFound
from citybase.core.ledger.models import LedgerEntry
from citybase.core.settings import Settings
from citybase.data.masking import operators as ops
from citybase.data.products import service
from citybase.data.sharing.models import ShareAccess
from tests.core.identity.factories import sign_in
from tests.data.products.factories import listed_product, product_data, products_city

KEYS = ops.keys_for("00" * 32)


def _reads(session: Session) -> tuple[int, int]:
    """Access-log rows and ledger entries of sample reads so far."""
    log = session.scalar(select(func.count()).select_from(ShareAccess)
                         .where(ShareAccess.operation == "sample"))  # fmt: skip
    ledger = session.scalar(select(func.count()).select_from(LedgerEntry)
                            .where(LedgerEntry.action == "products.sample"))  # fmt: skip
    return log or 0, ledger or 0


def _personal_product(session: Session, city: Any) -> int:
    return listed_product(session, city, name="违法当事人查询接口", kind="api", masked=True,
                          source_codes=[city.personal.code])  # fmt: skip


def test_a_listed_product_shows_a_handful_of_masked_rows_traced(
    session: Session, settings: Settings
) -> None:
    city = products_city(session, settings)
    product_id = listed_product(session, city)
    s = city.settings.products
    sample = service.read_sample(session, city.people["healthuser"], s, KEYS, product_id)
    assert sample.limit == s.sample_rows == 5
    assert [len(source.rows) for source in sample.sources] == [5]  # the resource has 8
    assert sample.sources[0].rows[0]["井盖编号"].startswith("JG")
    assert _reads(session) == (1, 1)
    access = session.scalars(select(ShareAccess).where(ShareAccess.operation == "sample")).one()
    assert (access.rows, access.username) == (5, "healthuser")
    fewer = service.read_sample(session, city.people["healthuser"], s, KEYS, product_id, 2)
    assert len(fewer.sources[0].rows) == 2


@pytest.mark.parametrize("limit", [6, 100, 0])
def test_more_rows_than_the_handful_reads_nothing(
    session: Session, settings: Settings, limit: int
) -> None:
    city = products_city(session, settings)
    product_id = listed_product(session, city)
    with pytest.raises(InvalidInput):
        service.read_sample(session, city.people["healthuser"], city.settings.products, KEYS,
                            product_id, limit)  # fmt: skip
    assert _reads(session) == (0, 0)


def test_personal_or_higher_graded_data_has_no_sample(session: Session, settings: Settings) -> None:
    city = products_city(session, settings)
    product_id = _personal_product(session, city)
    product = service.get_accessible_product(session, city.bureau, city.settings.products,
                                             product_id)  # fmt: skip
    assert product.personal_data
    with pytest.raises(Forbidden) as refused:
        service.read_sample(session, city.people["healthuser"], city.settings.products, KEYS,
                            product_id)  # fmt: skip
    assert refused.value.details["rule"] == "product.sample_grade"
    assert _reads(session) == (0, 0)


def test_no_sample_of_a_product_not_on_offer(session: Session, settings: Settings) -> None:
    city = products_city(session, settings)
    pending = service.register_product(session, city.people["opa"], product_data(city)).id
    with pytest.raises(NotFound):
        service.read_sample(session, city.bureau, city.settings.products, KEYS, pending)
    assert _reads(session) == (0, 0)


def test_the_sample_through_the_api_and_the_console(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    city = products_city(session, settings)
    app.state.settings.products.bureau_unit = "fz.bigdata"
    product_id = listed_product(session, city)
    personal = _personal_product(session, city)
    assert client.get(f"/api/v1/products/{product_id}/sample").status_code == 401
    client.headers["X-CSRF-Token"] = sign_in(client, "healthuser")
    got = client.get(f"/api/v1/products/{product_id}/sample", params={"limit": 3})
    assert got.status_code == 200
    assert len(got.json()["sources"][0]["rows"]) == 3
    assert _reads(session) == (1, 1)
    too_many = client.get(f"/api/v1/products/{product_id}/sample", params={"limit": 6})
    assert too_many.status_code == 422
    assert too_many.json()["error"]["field"] == "limit"
    forbidden = client.get(f"/api/v1/products/{personal}/sample")
    assert forbidden.status_code == 403
    assert _reads(session) == (1, 1)
    page = client.get(f"/console/products/{product_id}/sample")
    assert page.status_code == 200
    assert "样例数据" in page.text
    assert "JG" in page.text
    refused = client.get(f"/console/products/{personal}/sample")
    assert refused.status_code == 403
    assert _reads(session) == (2, 2)
