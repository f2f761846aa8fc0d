"""A bureau (fz.bigdata), a providing unit (fz.urban) with a personal-data resource and a
manhole register, a third resource outside any agreement, and two operator companies (op.alpha
with a live agreement covering the first two, op.beta with none), each with an operator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.codes import credit_code_check_char
from citybase.core.identity.schemas import Principal, Role
from citybase.core.orgs import service as orgs
from citybase.core.orgs.schemas import UnitCreate, UnitKind
from citybase.core.settings import Settings
from citybase.data.catalog.schemas import ResourceRead
from citybase.data.datastore import service as datastore
from citybase.data.grading import service as grading
from citybase.data.grading.schemas import ScanRequest
from citybase.data.products import service
from citybase.data.products.schemas import (
    AgreementAction,
    AgreementCreate,
    AgreementRead,
    AgreementReview,
    ContractTerms,
    NegotiationCreate,
    ProductAction,
    ProductCreate,
    ProductReview,
)
from tests.core.identity.factories import make_user, principal_of
from tests.core.orgs.factories import TEST_ACTOR
from tests.data.catalog.factories import make_published
from tests.data.sharing.factories import shared_city

BUREAU = "fz.bigdata"


def credit_code(n: int) -> str:
    first17 = f"91350100MA2YQ{n:04d}"
    return first17 + credit_code_check_char(first17)


def make_company(session: Session, code: str, name: str, n: int, **extra: Any) -> None:
    orgs.create_unit(session, TEST_ACTOR, UnitCreate.model_validate({
        "code": code, "name": name, "region_code": "350100", "kind": UnitKind.enterprise,
        "credit_code": credit_code(n), **extra}))  # fmt: skip


def manhole_rows(n: int = 8) -> list[dict[str, Any]]:
    return [{"井盖编号": f"JG{i:05d}", "权属单位": "市政中心", "巡查日期": "2026-11-01"}
            for i in range(n)]  # fmt: skip


@dataclass
class ProductsCity:
    people: dict[str, Principal]
    personal: ResourceRead  # 城市管理违法当事人信息: personal data
    manholes: ResourceRead  # 城市道路井盖信息: no personal data
    outside: ResourceRead  # a resource no agreement covers
    agreement: AgreementRead  # op.alpha's, live
    settings: Settings

    @property
    def bureau(self) -> Principal:
        return self.people["bureausteward"]


def agreement_data(**overrides: Any) -> AgreementCreate:
    today = clock.today()
    values: dict[str, Any] = {
        "title": "公共数据授权运营协议", "operator_unit_code": "op.alpha",
        "resource_codes": [], "themes": [], "purposes": ["普惠金融", "城市治理"],
        "scenarios": ["小微企业信贷"], "starts_on": today - timedelta(days=1),
        "ends_on": today + timedelta(days=365), "security_duties": "数据不出域，日志留存六个月",
        "price_policy": "priced",
    }  # fmt: skip
    values.update(overrides)
    return AgreementCreate.model_validate(values)


def live_agreement(city_people: dict[str, Principal], session: Session, settings: Settings,
                   data: AgreementCreate, signer: str = "opa") -> AgreementRead:  # fmt: skip
    bureau = city_people["bureausteward"]
    s = settings.products
    granted = service.grant_agreement(session, bureau, s, data)
    service.review_agreement(session, bureau, s, granted.id,
                             AgreementReview(approve=True, reason="材料齐全"))  # fmt: skip
    return service.sign_agreement(session, city_people[signer], s, granted.id,
                                  AgreementAction(reason="同意条款"))  # fmt: skip


def products_city(session: Session, settings: Settings) -> ProductsCity:
    settings.products.bureau_unit = BUREAU
    shared = shared_city(session)
    people = dict(shared.people)
    steward = people["urbansteward"]
    manholes = make_published(session, people, theme_tags=["城乡建设"])
    datastore.load_rows(session, steward, manholes.code, manhole_rows(), "test")
    grading.scan_resource(session, steward, manholes.code, ScanRequest(rows=manhole_rows()))
    outside = make_published(session, people, name="城市桥梁信息", theme_tags=["交通运输"],
                             keywords=["桥梁"])  # fmt: skip
    grading.scan_resource(session, steward, outside.code, ScanRequest(rows=[]))
    make_company(session, "op.alpha", "福州数据运营有限公司", 1)
    make_company(session, "op.beta", "闽江数据科技有限公司", 2)
    make_user(session, "opa", Role.data_operator, unit="op.alpha")
    make_user(session, "opb", Role.data_operator, unit="op.beta")
    for name in ("opa", "opb", "healthuser", "glreader"):
        people[name] = principal_of(session, name)
    agreement = live_agreement(people, session, settings, agreement_data(
        resource_codes=[shared.resource.code, manholes.code]))  # fmt: skip
    return ProductsCity(people, shared.resource, manholes, outside, agreement, settings)


def product_data(city: ProductsCity, **overrides: Any) -> ProductCreate:
    values: dict[str, Any] = {
        "name": "井盖巡查数据接口", "kind": "api", "description": "全市井盖巡查状态的查询接口",
        "sector": "城市治理", "source_codes": [city.manholes.code], "update_cycle": "daily",
        "sample": "井盖编号、权属单位、巡查日期", "price_model": "per_call",
        "price_yuan": "0.50", "licence": "仅限约定用途", "agreement_number": city.agreement.number,
    }  # fmt: skip
    values.update(overrides)
    return ProductCreate.model_validate(values)


def listed_product(session: Session, city: ProductsCity, **overrides: Any) -> int:
    """A product of op.alpha registered, approved and listed; returns its id."""
    s = city.settings.products
    product = service.register_product(session, city.people["opa"], product_data(city, **overrides))
    service.review_product(session, city.bureau, s, product.id,
                           ProductReview(approve=True, reason="合规"))  # fmt: skip
    service.list_product(session, city.bureau, s, product.id, ProductAction(reason="上架"))
    return product.id


def days(n: int) -> date:
    return clock.today() + timedelta(days=n)


def add_customers(session: Session, city: ProductsCity) -> None:
    """Two customer companies, cu.gamma (user cua) and cu.delta (user cud), data consumers."""
    make_company(session, "cu.gamma", "榕城物流科技有限公司", 3)
    make_company(session, "cu.delta", "闽都征信服务有限公司", 4)
    make_user(session, "cua", Role.data_consumer, unit="cu.gamma")
    make_user(session, "cud", Role.data_consumer, unit="cu.delta")
    for name in ("cua", "cud"):
        city.people[name] = principal_of(session, name)


def terms(**overrides: Any) -> ContractTerms:
    values: dict[str, Any] = {"ends_on": days(30), "max_calls": 100, "max_rows": 1000,
                              "reason": "按目录价提供"}  # fmt: skip
    values.update(overrides)
    return ContractTerms.model_validate(values)


def contract_for(
    session: Session, city: ProductsCity, product_id: int, customer: str = "cua",
    **term_overrides: Any,
) -> int:  # fmt: skip
    """A contract of ``customer`` for the product, negotiated through every protocol state
    (requested, offered, accepted, agreed, verified, finalized); returns its id."""
    s = city.settings.products
    who = city.people[customer]
    asked = service.request_product(session, who, product_id,
                                    NegotiationCreate(purpose="城市治理", scenario="井盖巡查"))  # fmt: skip
    service.offer_terms(session, city.people["opa"], s, asked.id, terms(**term_overrides))
    service.accept_offer(session, who, s, asked.id)
    service.agree_contract(session, city.people["opa"], s, asked.id, None)
    done = service.verify_agreement(session, who, s, asked.id)
    assert done.contract_id is not None
    return done.contract_id
