"""Deliveries under a contract: only with its key, decided by its ODRL policy with the rule
named, through the one traced read, metered and priced; a revoked or expired contract, a
delivery over its limits or for another purpose gets nothing, and is traced all the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.errors import InvalidInput, NotFound
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Principal
from citybase.core.ledger.models import LedgerEntry
from citybase.core.settings import Settings
from citybase.data.masking import operators as ops
from citybase.data.products import service
from citybase.data.products.models import ProductContract, ProductDelivery
from citybase.data.products.schemas import ContractAction, DeliveryAsk, DeliveryPage
from citybase.data.sharing.models import ShareAccess
from citybase.data.sharing.schemas import ReadContext
from tests.core.identity.factories import sign_in
from tests.data.products.factories import (
    add_customers,
    contract_for,
    listed_product,
    products_city,
)

KEYS = ops.keys_for("00" * 32)


def _setup(session: Session, settings: Settings, **term_overrides: Any):  # type: ignore[no-untyped-def]
    city = products_city(session, settings)
    add_customers(session, city)
    product_id = listed_product(session, city)
    contract_id = contract_for(session, city, product_id, **term_overrides)
    key = service.issue_contract_key(session, city.people["cua"], settings, contract_id)
    holder = identity.principal_from_api_key(session, key.secret)
    assert holder is not None
    return city, contract_id, holder, key.secret


def _deliver(session: Session, who: Principal, contract_id: int, purpose: str = "", **ask: Any):  # type: ignore[no-untyped-def]
    return service.deliver(session, who, KEYS, contract_id, ReadContext(purpose=purpose),
                           DeliveryAsk(**ask))  # fmt: skip


def _count(session: Session, model: Any, **where: Any) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return session.scalar(query) or 0


def test_a_delivery_with_the_contract_key_is_decided_traced_metered_and_priced(
    session: Session, settings: Settings
) -> None:
    _city, contract_id, holder, _ = _setup(session, settings)
    page = _deliver(session, holder, contract_id, limit=5)
    assert isinstance(page, DeliveryPage)
    assert len(page.rows) == 5
    assert page.rule == "permission[0]"
    assert any(d.startswith("delete") for d in page.duties)
    assert str(page.price_yuan) == "0.50"  # per call
    assert page.purpose == "城市治理"  # the contract's one purpose
    contract = session.get(ProductContract, contract_id)
    assert contract is not None
    assert (contract.calls, contract.rows) == (1, 5)
    assert contract.bytes == page.bytes > 0
    record = session.get(ProductDelivery, page.delivery_id)
    assert record is not None
    assert (record.outcome, record.rule, record.price_fen) == ("allowed", "permission[0]", 50)
    access = session.get(ShareAccess, page.access_id)
    assert access is not None
    assert access.outcome == "allowed"
    assert access.consumer_unit_code == "cu.gamma"
    assert access.query["basis"] == {"kind": "contract", "ref": contract.number}
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.seq == access.ledger_seq))
    assert entry is not None
    assert entry.action == "products.delivery"


def test_another_credential_gets_nothing_and_leaves_a_trace(
    session: Session, settings: Settings
) -> None:
    city, contract_id, _, _ = _setup(session, settings)
    refused = _deliver(session, city.people["cua"], contract_id)  # signed in, not the key
    assert isinstance(refused, service.DeliveryRefused)
    assert refused.rule == "contract.key"
    access = session.get(ShareAccess, refused.access_id)
    assert access is not None
    assert (access.outcome, access.rows) == ("refused", 0)
    assert "contract.key" in access.message
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.seq == access.ledger_seq))
    assert entry is not None
    assert entry.action == "products.delivery.refused"
    contract = session.get(ProductContract, contract_id)
    assert contract is not None
    assert contract.calls == 0
    # another company's user does not even find the contract
    with pytest.raises(NotFound):
        _deliver(session, city.people["cud"], contract_id)


def test_a_delivery_over_its_count_or_volume_limit_is_refused_naming_the_rule(
    session: Session, settings: Settings
) -> None:
    _city, contract_id, holder, _ = _setup(session, settings, max_calls=2, max_rows=7)
    assert isinstance(_deliver(session, holder, contract_id, limit=4), DeliveryPage)
    over_rows = _deliver(session, holder, contract_id, limit=4)  # 4 + 4 > 7
    assert isinstance(over_rows, service.DeliveryRefused)
    assert "citybase:rows lteq 7" in over_rows.rule
    assert isinstance(_deliver(session, holder, contract_id, limit=3), DeliveryPage)  # 7 rows
    over_calls = _deliver(session, holder, contract_id, limit=1)  # a third call
    assert isinstance(over_calls, service.DeliveryRefused)
    assert "count lteq 2" in over_calls.rule
    contract = session.get(ProductContract, contract_id)
    assert contract is not None
    assert (contract.calls, contract.rows) == (2, 7)  # refusals delivered nothing
    assert _count(session, ProductDelivery, outcome="refused") == 2
    assert _count(session, ProductDelivery, outcome="allowed") == 2


def test_a_purpose_or_region_outside_the_contract_is_refused(
    session: Session, settings: Settings
) -> None:
    _city, contract_id, holder, _ = _setup(session, settings, region="fz")
    other = _deliver(session, holder, contract_id, purpose="精准营销")
    assert isinstance(other, service.DeliveryRefused)
    assert "purpose isAnyOf" in other.rule
    elsewhere = _deliver(session, holder, contract_id, region="xm")
    assert isinstance(elsewhere, service.DeliveryRefused)
    assert "spatial isPartOf fz" in elsewhere.rule
    assert isinstance(_deliver(session, holder, contract_id, region="fz.gulou"), DeliveryPage)
    with pytest.raises(InvalidInput):
        _deliver(session, holder, contract_id, resource="NOT-A-SOURCE")


def test_a_revoked_or_expired_contract_stops_deliveries_at_once(
    session: Session, settings: Settings
) -> None:
    city, contract_id, holder, _ = _setup(session, settings)
    assert isinstance(_deliver(session, holder, contract_id), DeliveryPage)
    contract = session.get(ProductContract, contract_id)
    assert contract is not None
    contract.ends_at = datetime.now(UTC) - timedelta(seconds=1)
    session.flush()
    expired = _deliver(session, holder, contract_id)
    assert isinstance(expired, service.DeliveryRefused)
    assert expired.rule == "contract.expired"
    contract.ends_at = datetime.now(UTC) + timedelta(days=5)
    service.revoke_contract(session, city.people["opa"], settings.products, contract_id,
                            ContractAction(reason="违约"))  # fmt: skip
    revoked = _deliver(session, holder, contract_id)
    assert isinstance(revoked, service.DeliveryRefused)
    assert revoked.rule == "contract.revoked"
    assert contract.calls == 1


def test_deliveries_through_the_api_with_the_contract_key(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    city, contract_id, _, secret = _setup(session, settings, max_calls=1)
    app.state.settings.products.bureau_unit = "fz.bigdata"
    path = f"/api/v1/products/contracts/{contract_id}/rows"
    assert client.get(path).status_code == 401
    auth = {"Authorization": f"Bearer {secret}"}
    served = client.get(path, params={"limit": 3}, headers=auth)
    assert served.status_code == 200, served.text
    assert len(served.json()["rows"]) == 3
    again = client.get(path, headers=auth)
    assert again.status_code == 403
    assert "count lteq 1" in again.json()["error"]["rule"]
    assert "rows" not in again.json()
    bad = client.get(path, params={"limit": 0}, headers=auth)
    assert bad.status_code == 422
    client.headers["X-CSRF-Token"] = sign_in(client, "opa")
    listed = client.get(f"/api/v1/products/contracts/{contract_id}/deliveries").json()
    assert [d["outcome"] for d in listed] == ["refused", "allowed"]
    client.headers["X-CSRF-Token"] = sign_in(client, "cud")
    assert client.get(f"/api/v1/products/contracts/{contract_id}/deliveries").status_code == 404
    del city


def test_a_bad_delivery_question_is_a_clear_error(
    client: TestClient, session: Session, settings: Settings
) -> None:
    _city, contract_id, _, secret = _setup(session, settings)
    auth = {"Authorization": f"Bearer {secret}"}
    path = f"/api/v1/products/contracts/{contract_id}/rows"
    for params, field in (({"region": "启用"}, "region"), ({"fields": "x," * 300}, "fields")):
        answer = client.get(path, params=params, headers=auth)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == field
    contract = session.get(ProductContract, contract_id)
    assert contract is not None
    assert contract.calls == 0
