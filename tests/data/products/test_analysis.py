"""Deliveries of a sandbox product as sandboxed analysis: the contract decides first, the privacy
sandbox answers over the product's source with the contract as the read's basis, only the
released aggregates leave, metered as one call; a product's kind keeps each mode to its own."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.errors import NotFound
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Principal
from citybase.core.settings import Settings
from citybase.data.masking import operators as ops
from citybase.data.products import service
from citybase.data.products.models import ProductContract, ProductDelivery
from citybase.data.products.schemas import AnalysisResult, ContractAction, DeliveryAsk, FileAsk
from citybase.data.sandbox import service as sandbox
from citybase.data.sandbox.models import SandboxQuery
from citybase.data.sandbox.schemas import DeclarationCreate, GrantCreate, QueryCreate
from citybase.data.sharing.models import ShareAccess
from citybase.data.sharing.schemas import ReadContext
from tests.data.products.factories import (
    ProductsCity,
    add_customers,
    contract_for,
    listed_product,
    products_city,
)

MASTER = "00" * 32
KEYS = ops.keys_for(MASTER)


def _keyed(session: Session, city: ProductsCity, settings: Settings, contract_id: int,
           customer: str = "cua") -> Principal:  # fmt: skip
    key = service.issue_contract_key(session, city.people[customer], settings, contract_id)
    holder = identity.principal_from_api_key(session, key.secret)
    assert holder is not None
    return holder


def _setup(session: Session, settings: Settings, *, grant: bool = True, kind: str = "sandbox"):  # type: ignore[no-untyped-def]
    city = products_city(session, settings)
    add_customers(session, city)
    steward = city.people["urbansteward"]
    sandbox.declare_resource(session, steward, city.manholes.code, DeclarationCreate(
        identifier="井盖编号", max_rows_per_person=1,
        categorical={"权属单位": ["市政中心", "区建设局"]}, numeric={}))  # fmt: skip
    if grant:
        sandbox.grant_budget(session, steward, settings.products, GrantCreate(
            resource_code=city.manholes.code, unit_code="cu.gamma", epsilon=2.0,
            purpose="井盖巡查统计", legal_basis="数据产品合同"))  # fmt: skip
    product_id = listed_product(session, city, kind=kind, name="井盖巡查沙箱分析")
    contract_id = contract_for(session, city, product_id)
    return city, contract_id, _keyed(session, city, settings, contract_id)


def _ask(city: ProductsCity, epsilon: float = 0.5) -> QueryCreate:
    return QueryCreate(sql=f'SELECT 权属单位, COUNT(*) AS 数量 FROM "{city.manholes.code}" '
                       "GROUP BY 权属单位", epsilon=epsilon)  # fmt: skip


def _analyse(session: Session, who: Principal, contract_id: int, data: QueryCreate) -> Any:
    return service.deliver_analysis(session, who, KEYS, contract_id, ReadContext(), data)


def _count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_sandbox_delivery_releases_only_aggregates_and_is_metered(
    session: Session, settings: Settings
) -> None:
    city, contract_id, holder = _setup(session, settings)
    got = _analyse(session, holder, contract_id, _ask(city))
    assert isinstance(got, AnalysisResult), got
    assert got.rule == "permission[0]"
    # one row per public key of the grouping column, a noisy count: no row of the source
    assert sorted(r["权属单位"] for r in got.rows) == ["区建设局", "市政中心"]
    assert got.columns == ["权属单位", "数量"]
    assert "JG0000" not in json.dumps(got.model_dump(mode="json"), ensure_ascii=False)
    assert 0 < got.epsilon_spent <= 0.5
    assert got.remaining == 1.5
    record = session.get(ProductDelivery, got.delivery_id)
    assert record is not None
    assert (record.mode, record.outcome, record.rows, record.price_fen) == (
        "sandbox",
        "allowed",
        2,
        50,
    )
    contract = session.get(ProductContract, contract_id)
    assert contract is not None
    assert (contract.calls, contract.rows) == (1, 2)
    assert contract.bytes == record.bytes > 0
    access = session.get(ShareAccess, got.access_id)
    assert access is not None
    assert access.query["basis"] == {"kind": "contract", "ref": contract.number}
    assert access.consumer_unit_code == "cu.gamma"
    query = session.get(SandboxQuery, got.query_id)
    assert query is not None
    assert query.status == "answered"


def test_the_contract_decides_before_the_sandbox_reads_or_spends(
    session: Session, settings: Settings
) -> None:
    city, contract_id, holder = _setup(session, settings)
    service.revoke_contract(session, city.people["opa"], settings.products, contract_id,
                            ContractAction(reason="违约"))  # fmt: skip
    refused = _analyse(session, holder, contract_id, _ask(city))
    assert isinstance(refused, service.DeliveryRefused)
    assert refused.rule == "contract.revoked"
    assert _count(session, SandboxQuery) == 0  # nothing asked of the sandbox, no ε spent
    access = session.get(ShareAccess, refused.access_id)
    assert access is not None
    assert (access.outcome, access.rows) == ("refused", 0)
    # another company holds no such contract: not found, nothing asked
    with pytest.raises(NotFound):
        _analyse(session, city.people["cud"], contract_id, _ask(city))
    assert _count(session, SandboxQuery) == 0


def test_without_a_budget_the_sandbox_refuses_and_the_delivery_is_kept_refused(
    session: Session, settings: Settings
) -> None:
    city, contract_id, holder = _setup(session, settings, grant=False)
    refused = _analyse(session, holder, contract_id, _ask(city))
    assert isinstance(refused, service.DeliveryRefused)
    assert refused.rule == "grant.none"
    record = session.get(ProductDelivery, refused.delivery_id)
    assert record is not None
    assert (record.mode, record.outcome, record.rows) == ("sandbox", "refused", 0)
    contract = session.get(ProductContract, contract_id)
    assert contract is not None
    assert contract.calls == 0


def test_a_sandbox_product_s_rows_never_leave_and_a_dataset_is_not_analysed(
    session: Session, settings: Settings
) -> None:
    city, contract_id, holder = _setup(session, settings)
    rows = service.deliver(session, holder, KEYS, contract_id, ReadContext(), DeliveryAsk())
    assert isinstance(rows, service.DeliveryRefused)
    assert rows.rule == "delivery.mode"
    file = service.deliver_file(session, holder, KEYS, MASTER, contract_id, ReadContext(),
                                FileAsk())  # fmt: skip
    assert isinstance(file, service.DeliveryRefused)
    assert file.rule == "delivery.mode"
    # a dataset's contract is not a way into the sandbox
    dataset = listed_product(session, city, kind="dataset", name="井盖巡查数据集")
    dataset_contract = contract_for(session, city, dataset)
    dataset_holder = _keyed(session, city, settings, dataset_contract)
    analysed = _analyse(session, dataset_holder, dataset_contract, _ask(city))
    assert isinstance(analysed, service.DeliveryRefused)
    assert analysed.rule == "delivery.mode"
    assert _count(session, SandboxQuery) == 0
    served = session.scalar(select(func.count()).select_from(ShareAccess)
                            .where(ShareAccess.outcome == "allowed"))  # fmt: skip
    assert served == 0  # nothing of the source was read by any of them


def test_analyses_through_the_api(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    city, contract_id, _ = _setup(session, settings)
    app.state.settings.products.bureau_unit = "fz.bigdata"
    secret = service.issue_contract_key(session, city.people["cua"], settings, contract_id).secret
    path = f"/api/v1/products/contracts/{contract_id}/analyses"
    body = _ask(city).model_dump(mode="json", exclude_none=True)
    assert client.post(path, json=body).status_code == 401
    auth = {"Authorization": f"Bearer {secret}"}
    got = client.post(path, json=body, headers=auth)
    assert got.status_code == 200, got.text
    assert {r["权属单位"] for r in got.json()["rows"]} == {"市政中心", "区建设局"}
    bad = client.post(path, json={"sql": "SELECT 井盖编号 FROM x", "epsilon": 0.1}, headers=auth)
    assert bad.status_code in (403, 422)
    assert bad.json()["error"]["code"] == "delivery_refused"
