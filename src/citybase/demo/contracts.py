"""The demo city's data-product customers (需方) and what they bought from 福州数据运营公司:
three companies, each with a data user; negotiations left in several states (requested,
offered, agreed awaiting the customer's verification, terminated); contracts in force, one
revoked and one expired; and deliveries over the last three months, so that the monthly
statements and the bureau's revenue report have figures.

Every step goes through the products domain's verbs, as a user would take it, and every
delivery is the one traced read. The demo then dates the contracts' start and the deliveries
back over the last ninety days (a delivery is stamped with the moment it is served): their
ledger entries and access-log rows keep the moment the demo city was built."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Principal, Role, UserCreate
from citybase.core.ledger.schemas import Actor
from citybase.core.settings import Settings
from citybase.data.masking import operators as ops
from citybase.data.products import service as products
from citybase.data.products.models import ProductContract, ProductDelivery
from citybase.data.products.schemas import (
    ContractAction,
    ContractTerms,
    DeliveryAsk,
    DeliveryPage,
    NegotiationCreate,
    PriceModel,
    ProductKind,
    ProductRead,
    Termination,
)
from citybase.data.sharing.schemas import ReadContext

DEMO_ACTOR = Actor.system("demo")
# the companies are in the demo register (fuzhou.yaml); "customer" is a demo user who signs in
CUSTOMERS = {
    "fz.rclogistics": "customer",  # 榕城物流科技有限公司
    "fz.mdcredit": "mdcredit",  # 闽都征信服务有限公司
    "fz.hxhealth": "hxhealth",  # 海峡健康科技有限公司
}
STAFF = {"mdcredit": "闽都征信公司数据专员 郭颖", "hxhealth": "海峡健康公司数据专员 许航"}
DAYS = 90  # deliveries spread over the last three months


@dataclass(frozen=True)
class Deal:
    """A customer's negotiation for the first listed product of a kind and price, and how far
    it goes: requested, offered, agreed, terminated, or a contract (in force, revoked, expired)
    with deliveries every ``every`` days."""

    customer: str
    kind: ProductKind
    price: PriceModel
    nth: int  # which of the products of that kind and price
    purpose: str
    scenario: str
    outcome: str
    every: int = 7
    rows: int = 20


DEALS = (
    Deal("customer", ProductKind.api, PriceModel.per_call, 0, "交通出行服务", "城市交通出行服务",
         "in_force", every=7),
    Deal("customer", ProductKind.api, PriceModel.monthly, 1, "交通出行服务", "城市交通出行服务",
         "in_force", every=15, rows=40),
    Deal("mdcredit", ProductKind.api, PriceModel.monthly, 2, "普惠金融", "小微企业普惠信贷",
         "in_force", every=12),
    Deal("mdcredit", ProductKind.dataset, PriceModel.per_call, 1, "普惠金融", "小微企业普惠信贷",
         "revoked", every=10, rows=40),
    Deal("hxhealth", ProductKind.api, PriceModel.free, 0, "公共卫生研究", "居民健康服务",
         "in_force", every=9),
    Deal("hxhealth", ProductKind.api, PriceModel.per_call, 2, "文旅营销", "文旅客流分析",
         "expired", every=10),
    Deal("hxhealth", ProductKind.api, PriceModel.free, 5, "民生服务", "一老一小民生服务",
         "requested"),
    Deal("customer", ProductKind.api, PriceModel.monthly, 5, "文旅营销", "文旅客流分析",
         "offered"),
    Deal("customer", ProductKind.api, PriceModel.per_call, 3, "城市治理", "城市部件智能巡检",
         "agreed"),
    Deal("mdcredit", ProductKind.api, PriceModel.monthly, 4, "文旅营销", "文旅客流分析",
         "terminated"),
)  # fmt: skip


def _staff(session: Session) -> None:
    """A data user (data_consumer) for each company the demo acts for without a sign-in."""
    for unit, username in CUSTOMERS.items():
        if username in STAFF:
            identity.create_user(session, None, UserCreate(
                username=username, display_name=STAFF[username], unit_code=unit,
                roles=[Role.data_consumer], password=secrets.token_urlsafe(18),
            ), actor=DEMO_ACTOR)  # fmt: skip


def _pick(listed: list[ProductRead], deal: Deal) -> ProductRead:
    fitting = [p for p in listed if p.kind is deal.kind and p.price_model is deal.price]
    return fitting[deal.nth % len(fitting)]


def _terms(days: int, reason: str) -> ContractTerms:
    return ContractTerms(ends_on=clock.today() + timedelta(days=days), max_calls=10_000,
                         max_rows=500_000, reason=reason)  # fmt: skip


def seed_contracts(session: Session, settings: Settings, listed: list[ProductRead]) -> None:
    """The customers' users, their negotiations and contracts for ``listed`` products, and the
    contracts' deliveries."""
    _staff(session)
    s = settings.products
    provider = identity.principal_for(session, "dataop")
    admin = identity.principal_for(session, "admin")
    keys = ops.keys_for(settings.masking_key)
    now = datetime.now(UTC)
    for deal in DEALS:
        customer = identity.principal_for(session, deal.customer)
        product = _pick(listed, deal)
        asked = products.request_product(session, customer, product.id, NegotiationCreate(
            purpose=deal.purpose, scenario=deal.scenario))  # fmt: skip
        if deal.outcome == "requested":
            continue
        if deal.outcome == "terminated":
            products.terminate_negotiation(session, provider, s, asked.id, Termination(
                reason="所述用途不在本产品的授权运营场景内，请改选文旅类数据产品",
                code="purpose"))  # fmt: skip
            continue
        if deal.outcome == "agreed":
            products.agree_contract(session, provider, s, asked.id,
                                    _terms(365, "按目录价提供，一年期"))  # fmt: skip
            continue
        products.offer_terms(session, provider, s, asked.id, _terms(365, "按目录价提供，一年期"))
        if deal.outcome == "offered":
            continue
        products.accept_offer(session, customer, s, asked.id, "接受")
        products.agree_contract(session, provider, s, asked.id, None, "同意")
        done = products.verify_agreement(session, customer, s, asked.id, "核验无误")
        assert done.contract_id is not None
        holder = _serve(session, settings, keys, customer, done.contract_id, deal, now)
        if deal.outcome == "revoked":
            products.revoke_contract(session, admin, s, done.contract_id, ContractAction(
                reason="需方将数据用于约定用途以外的营销，经核查属实"))  # fmt: skip
            _refused_after_revocation(session, keys, holder, done.contract_id, now)
    products.record_expiries(session)


def _moments(deal: Deal, now: datetime) -> list[datetime]:
    """When the contract's deliveries came: every ``every`` days over the last three months
    (the first half of them for a contract that expired, up to a month ago for one revoked)."""
    last = {"expired": DAYS // 2, "revoked": 30}.get(deal.outcome, 0)
    return [now - timedelta(days=d, hours=deal.every) for d in range(DAYS - 1, last, -deal.every)]


def _serve(
    session: Session, settings: Settings, keys: ops.Keys, customer: Principal, contract_id: int,
    deal: Deal, now: datetime,
) -> Principal:  # fmt: skip
    """The contract's deliveries with its key, dated over the three months; the key's holder."""
    key = products.issue_contract_key(session, customer, settings, contract_id)
    holder = identity.principal_from_api_key(session, key.secret)
    assert holder is not None
    moments = _moments(deal, now)
    for n, moment in enumerate(moments):
        # now and then asked for another purpose than the contract's: refused, never charged
        purpose = "精准营销" if n % 6 == 5 else deal.purpose
        result = products.deliver(session, holder, keys, contract_id, ReadContext(
            purpose=purpose), DeliveryAsk(limit=deal.rows, offset=(n * deal.rows) % 40))  # fmt: skip
        delivery_id = result.delivery_id
        assert isinstance(result, DeliveryPage) == (purpose == deal.purpose)
        _date(session, delivery_id, moment)
    contract = session.get(ProductContract, contract_id)
    assert contract is not None
    contract.starts_at = moments[0] - timedelta(days=1)
    if deal.outcome == "expired":  # its term ended half-way through the three months
        contract.ends_at = now - timedelta(days=DAYS // 2 - 1)
    return holder


def _refused_after_revocation(
    session: Session, keys: ops.Keys, holder: Principal, contract_id: int, now: datetime
) -> None:
    """The revoked contract's customer tries once more with its key: refused
    (contract.revoked)."""
    contract = session.get(ProductContract, contract_id)
    assert contract is not None
    result = products.deliver(session, holder, keys, contract_id, ReadContext(
        purpose=contract.purposes[0]), DeliveryAsk(limit=10))  # fmt: skip
    assert not isinstance(result, DeliveryPage)
    _date(session, result.delivery_id, now - timedelta(days=20))
    contract.revoked_at = now - timedelta(days=29)


def _date(session: Session, delivery_id: int, moment: datetime) -> None:
    row = session.get(ProductDelivery, delivery_id)
    assert row is not None
    row.at = moment
    session.flush()
