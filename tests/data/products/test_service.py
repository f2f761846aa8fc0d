"""Authorized operation and data products through the service: the rules that refuse, the
ledger and the events, and the boundaries between operators, units and the bureau."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.bus.models import OutboxEvent
from citybase.core.errors import CitybaseError, Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.core.settings import Settings
from citybase.data.products import service
from citybase.data.products.models import DataProduct, OperationAgreement
from citybase.data.products.schemas import (
    AgreementAction,
    AgreementReview,
    CatalogQuery,
    ProductAction,
    ProductKind,
    ProductReview,
    ProductStatus,
)
from tests.data.products.factories import (
    ProductsCity,
    agreement_data,
    days,
    listed_product,
    product_data,
    products_city,
)


@pytest.fixture
def city(session: Session, settings: Settings) -> ProductsCity:
    return products_city(session, settings)


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _actions(session: Session, object_id: str) -> list[str]:
    entries, _ = ledger.find_entries(session, LedgerFilter(object_id=object_id, limit=50))
    return sorted(e.action for e in entries)


def test_an_agreement_is_granted_reviewed_signed_suspended_and_ended_on_the_ledger(
    session: Session, city: ProductsCity
) -> None:
    a = city.agreement
    assert a.live
    assert a.operator_credit_code.startswith("91350100")
    s = city.settings.products
    suspended = service.suspend_agreement(
        session, city.bureau, s, a.id, AgreementAction(reason="整改")
    )
    assert suspended.status.value == "suspended"
    assert not suspended.live
    service.resume_agreement(session, city.bureau, s, a.id, AgreementAction(reason="整改完成"))
    ended = service.end_agreement(session, city.bureau, s, a.id, AgreementAction(reason="到期终止"))
    assert ended.status.value == "ended"
    assert ended.ended_at is not None
    assert _actions(session, a.number) == sorted(
        f"products.agreement.{w}"
        for w in ("grant", "review.approve", "sign", "suspend", "resume", "end")
    )
    with pytest.raises(Conflict):  # an ended agreement is not signed again
        service.resume_agreement(session, city.bureau, s, a.id, AgreementAction(reason="x"))


def test_only_a_company_with_a_valid_credit_code_is_granted(
    session: Session, city: ProductsCity
) -> None:
    before = _count(session, OperationAgreement)
    for unit in ("fz.urban", "no.such"):  # a government unit; an unknown one
        with pytest.raises(InvalidInput) as err:
            service.grant_agreement(session, city.bureau, city.settings.products,
                                    agreement_data(operator_unit_code=unit, themes=["城乡建设"]))  # fmt: skip
        assert err.value.details["rule"] == "agreement.operator_registered"
    assert _count(session, OperationAgreement) == before


def test_a_unit_steward_or_an_operator_acts_not_for_the_bureau(
    session: Session, city: ProductsCity
) -> None:
    s = city.settings.products
    before = _count(session, OperationAgreement)
    for who in ("urbansteward", "opa"):
        with pytest.raises(Forbidden):
            service.grant_agreement(session, city.people[who], s, agreement_data(themes=["x"]))
        with pytest.raises((Forbidden, NotFound)):
            service.suspend_agreement(session, city.people[who], s, city.agreement.id,
                                      AgreementAction(reason="越权"))  # fmt: skip
    assert _count(session, OperationAgreement) == before
    assert service.get_accessible_agreement(session, city.bureau, s, city.agreement.id).live


def test_operator_b_neither_sees_nor_signs_operator_a_s_agreement(
    session: Session, city: ProductsCity
) -> None:
    s = city.settings.products
    other = service.grant_agreement(session, city.bureau, s, agreement_data(themes=["城乡建设"]))
    service.review_agreement(session, city.bureau, s, other.id,
                             AgreementReview(approve=True, reason="可"))  # fmt: skip
    opb = city.people["opb"]
    assert service.get_accessible_agreements(session, opb, s) == []
    with pytest.raises(NotFound):
        service.sign_agreement(session, opb, s, other.id, AgreementAction(reason="抢签"))
    assert (
        service.get_accessible_agreement(session, city.bureau, s, other.id).status.value
        == "reviewed"
    )


def test_an_operator_registers_a_product_within_its_live_agreement(
    session: Session, city: ProductsCity
) -> None:
    product = service.register_product(session, city.people["opa"], product_data(city))
    assert product.status is ProductStatus.submitted
    assert product.agreement_number == city.agreement.number
    assert product.price_yuan == Decimal("0.50")
    assert product.grade  # the highest of its sources' grades
    rules = {c.rule: c.passed for c in product.checks}
    assert rules["product.sources_in_agreement"]
    assert rules["product.grade_delivery"]
    assert "product.quality" in rules
    assert product.sample_rows[0]["resource"] == city.manholes.code
    assert "products.product.register" in _actions(session, product.number)


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"source_codes": ["OUTSIDE"]}, "product.sources_in_agreement"),
        ({"kind": "dataset", "source": "personal"}, "product.grade_delivery"),
        ({"kind": "api", "masked": False, "source": "personal"}, "product.personal_data_masked"),
        ({"agreement_number": ""}, "agreement.own_company"),
    ],
)
def test_a_product_breaking_a_rule_is_refused_naming_it_and_nothing_is_kept(
    session: Session, city: ProductsCity, overrides: dict[str, object], rule: str
) -> None:
    values = dict(overrides)
    if values.pop("source", None) == "personal":
        values["source_codes"] = [city.personal.code]
    if values.get("source_codes") == ["OUTSIDE"]:
        values["source_codes"] = [city.manholes.code, city.outside.code]
    before = _count(session, DataProduct)
    with pytest.raises(CitybaseError) as err:
        service.register_product(session, city.people["opa"], product_data(city, **values))
    assert err.value.details["rule"] == rule
    assert rule in err.value.message or err.value.details["rule"] in err.value.message
    assert _count(session, DataProduct) == before


def test_personal_data_is_offered_masked_through_an_api_or_in_the_sandbox(
    session: Session, city: ProductsCity
) -> None:
    for kind, masked in ((ProductKind.api, True), (ProductKind.sandbox, False)):
        p = service.register_product(session, city.people["opa"], product_data(
            city, name=f"违法当事人{kind.value}", kind=kind, masked=masked,
            source_codes=[city.personal.code]))  # fmt: skip
        assert p.personal_data


def test_no_product_outside_a_live_agreement(session: Session, city: ProductsCity) -> None:
    s = city.settings.products
    service.suspend_agreement(session, city.bureau, s, city.agreement.id,
                              AgreementAction(reason="暂停"))  # fmt: skip
    with pytest.raises(Forbidden) as err:
        service.register_product(session, city.people["opa"], product_data(city))
    assert err.value.details["rule"] == "agreement.live"
    service.resume_agreement(session, city.bureau, s, city.agreement.id,
                             AgreementAction(reason="恢复"))  # fmt: skip
    row = session.get(OperationAgreement, city.agreement.id)
    assert row is not None
    row.ends_on = days(-1)  # expired yesterday
    session.flush()
    with pytest.raises(Forbidden, match="expired"):
        service.register_product(session, city.people["opa"], product_data(city))
    # operator B holds no agreement: naming A's is refused as not its own
    with pytest.raises(Forbidden) as err:
        service.register_product(session, city.people["opb"], product_data(city))
    assert err.value.details["rule"] == "agreement.own_company"


def test_a_product_is_reviewed_listed_and_delisted_with_events(
    session: Session, city: ProductsCity
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    assert service.count_listed_products(session) == 0
    product_id = listed_product(session, city)
    product = service.get_accessible_product(session, city.people["healthuser"],
                                             city.settings.products, product_id)  # fmt: skip
    assert product.status is ProductStatus.listed
    assert product.offer_policy is not None
    assert product.offer_policy["permission"][0]["duty"][0]["action"] == "compensate"
    assert service.count_listed_products(session) == 1
    assert service.count_listed_products(session, at=before) == 0
    service.delist_product(session, city.people["opa"], city.settings.products, product_id,
                           ProductAction(reason="数据源调整"))  # fmt: skip
    assert service.count_listed_products(session) == 0
    topics = list(session.scalars(select(OutboxEvent.topic).where(
        OutboxEvent.topic.like("data.products.%"))))  # fmt: skip
    assert sorted(topics) == ["data.products.product.delisted", "data.products.product.listed"]
    assert _actions(session, product.number) == sorted(
        f"products.product.{w}" for w in ("register", "review.approve", "list", "delist")
    )


def test_a_unit_user_or_an_operator_does_not_approve_products(
    session: Session, city: ProductsCity
) -> None:
    s = city.settings.products
    product = service.register_product(session, city.people["opa"], product_data(city))
    for who in ("urbansteward", "opa", "healthuser"):
        with pytest.raises((Forbidden, NotFound)):
            service.review_product(session, city.people[who], s, product.id,
                                   ProductReview(approve=True, reason="自批"))  # fmt: skip
    assert session.get(DataProduct, product.id).status == "submitted"  # type: ignore[union-attr]


def test_operator_b_cannot_delist_or_see_operator_a_s_unlisted_product(
    session: Session, city: ProductsCity
) -> None:
    s = city.settings.products
    submitted = service.register_product(session, city.people["opa"], product_data(city))
    for who in ("opb", "healthuser"):  # another operator; a customer
        with pytest.raises(NotFound):
            service.get_accessible_product(session, city.people[who], s, submitted.id)
    listed = listed_product(session, city, name="井盖巡查统计报告", kind="report")
    with pytest.raises(Forbidden):
        service.delist_product(session, city.people["opb"], s, listed,
                               ProductAction(reason="恶意下架"))  # fmt: skip
    assert session.get(DataProduct, listed).status == "listed"  # type: ignore[union-attr]
    assert service.get_accessible_products(session, city.people["opb"], s) == []


def test_suspending_an_agreement_delists_what_it_carried(
    session: Session, city: ProductsCity
) -> None:
    product_id = listed_product(session, city)
    service.suspend_agreement(session, city.bureau, city.settings.products, city.agreement.id,
                              AgreementAction(reason="安全整改"))  # fmt: skip
    assert session.get(DataProduct, product_id).status == "delisted"  # type: ignore[union-attr]
    assert service.search_catalog(session, CatalogQuery()).total == 0


def test_an_agreement_past_its_last_day_is_ended_and_its_products_delisted_by_the_job(
    session: Session, city: ProductsCity
) -> None:
    from citybase.data.products.tasks import record_agreement_ends

    product_id = listed_product(session, city)
    agreement = session.get(OperationAgreement, city.agreement.id)
    assert agreement is not None
    # on its last day nothing happens; the day after, it is ended and its product delisted
    assert service.record_agreement_ends(session, agreement.ends_on) == 0
    assert agreement.status == "signed"
    assert service.record_agreement_ends(session, agreement.ends_on + timedelta(days=1)) == 1
    assert agreement.status == "ended"
    assert agreement.ended_at is not None
    assert session.get(DataProduct, product_id).status == "delisted"  # type: ignore[union-attr]
    assert "products.agreement.expire" in _actions(session, agreement.number)
    number = service.get_accessible_product(session, city.bureau, city.settings.products,
                                            product_id).number  # fmt: skip
    assert "products.product.delist" in _actions(session, number)
    delisted = session.scalar(select(func.count()).select_from(OutboxEvent).where(
        OutboxEvent.topic == "data.products.product.delisted"))  # fmt: skip
    assert delisted == 1
    # an ended agreement is not ended again
    assert service.record_agreement_ends(session, agreement.ends_on + timedelta(days=2)) == 0
    # the worker runs it every hour, so that it happens on the day
    from citybase.core.bus import service as bus

    assert bus._periodic["data.products.agreements.end"](city.settings) == 3600
    assert bus._job_handlers["data.products.agreements.end"] is record_agreement_ends


def test_the_catalog_is_searched_in_chinese_with_facets(
    session: Session, city: ProductsCity
) -> None:
    listed_product(session, city)
    listed_product(session, city, name="城市道路设施统计报告", kind="report", sector="交通出行",
                   description="按月汇总井盖与道路设施巡查", price_model="free", price_yuan="0")  # fmt: skip
    service.register_product(session, city.people["opa"],
                             product_data(city, name="井盖待审产品"))  # not listed  # fmt: skip
    found = service.search_catalog(session, CatalogQuery(q="井盖"))
    assert [p.name for p in found.products] == ["井盖巡查数据接口", "城市道路设施统计报告"]
    assert {f.value: f.count for f in found.facets["kind"]} == {"api": 1, "report": 1}
    assert service.search_catalog(session, CatalogQuery(q="道路设施")).total == 1
    assert service.search_catalog(session, CatalogQuery(q="井 报告")).total == 1
    assert service.search_catalog(session, CatalogQuery(q="桥梁")).total == 0
    assert service.search_catalog(session, CatalogQuery(price_model="free")).total == 1
    assert service.search_catalog(session, CatalogQuery(q="待审")).total == 0


def test_scenarios_are_served_by_many_products(session: Session, city: ProductsCity) -> None:
    from citybase.data.products.schemas import ScenarioCreate, ScenarioLink

    s = city.settings.products
    first = listed_product(session, city)
    second = listed_product(session, city, name="井盖统计报告", kind="report")
    scenario = service.create_scenario(session, city.bureau, s, ScenarioCreate(
        name="城市部件智能巡检", sector="城市治理", owner_unit_code="fz.urban"))  # fmt: skip
    for pid in (first, second):
        number = service.get_accessible_product(session, city.bureau, s, pid).number
        service.link_product(session, city.people["opa"], s, scenario.id,
                             ScenarioLink(product_number=number))  # fmt: skip
    shown = service.list_scenarios(session, city.people["healthuser"], s)
    assert len(shown) == 1
    assert len(shown[0].product_numbers) == 2
    assert service.count_scenarios(session) == 1
    with pytest.raises(Forbidden):  # a unit does not create scenarios for the bureau
        service.create_scenario(session, city.people["urbansteward"], s, ScenarioCreate(
            name="另一个", sector="x", owner_unit_code="fz.urban"))  # fmt: skip


def test_a_data_asset_keeps_every_valuation(session: Session, city: ProductsCity) -> None:
    from citybase.data.products.schemas import AssetCreate, AssetRevalue

    s = city.settings.products
    steward = city.people["urbansteward"]
    asset = service.record_asset(session, steward, AssetCreate(
        subject_kind="resource", subject_code=city.manholes.code, cost_yuan=Decimal("120000.00"),
        expected_benefit_yuan=Decimal("300000"), method="cost", value_yuan=Decimal("120000")))  # fmt: skip
    revalued = service.revalue_asset(session, steward, s, asset.id, AssetRevalue(
        cost_yuan=Decimal("120000"), expected_benefit_yuan=Decimal("300000"), method="income",
        value_yuan=Decimal("180000.50"), reason="产品上架后按收益法评估"))  # fmt: skip
    assert revalued.version == 2
    assert revalued.value_yuan == Decimal("180000.50")
    assert [(e.version, e.method.value, e.value_yuan) for e in revalued.history] == [
        (1, "cost", Decimal("120000.00")), (2, "income", Decimal("180000.50"))]  # fmt: skip
    assert service.count_assets(session) == (1, 18000050)
    assert _actions(session, asset.number) == ["products.asset.record", "products.asset.revalue"]
    with pytest.raises(Conflict):  # recorded once; then revalued
        service.record_asset(session, steward, AssetCreate(
            subject_kind="resource", subject_code=city.manholes.code, cost_yuan=Decimal("1"),
            method="cost", value_yuan=Decimal("1")))  # fmt: skip


def test_a_unit_neither_records_nor_revalues_another_unit_s_asset(
    session: Session, city: ProductsCity
) -> None:
    from citybase.data.products.schemas import AssetCreate, AssetRevalue

    s = city.settings.products
    values = {"cost_yuan": Decimal("10"), "method": "market", "value_yuan": Decimal("20")}
    with pytest.raises(Forbidden):  # fz.urban's resource, recorded by op.alpha
        service.record_asset(session, city.people["opa"], AssetCreate(
            subject_kind="resource", subject_code=city.manholes.code, **values))  # fmt: skip
    asset = service.record_asset(session, city.people["urbansteward"], AssetCreate(
        subject_kind="resource", subject_code=city.manholes.code, **values))  # fmt: skip
    with pytest.raises(NotFound):
        service.revalue_asset(session, city.people["opa"], s, asset.id,
                              AssetRevalue(reason="越权", **values))  # fmt: skip
    assert service.get_accessible_assets(session, city.people["opa"], s) == []
    assert len(service.get_accessible_assets(session, city.bureau, s)) == 1
    assert service.get_accessible_asset(session, city.bureau, s, asset.id).version == 1


def test_money_is_refused_with_more_than_two_decimals() -> None:
    from pydantic import ValidationError

    from citybase.data.products.schemas import AssetRevalue

    with pytest.raises(ValidationError, match="two decimals"):
        AssetRevalue(cost_yuan=Decimal("1.005"), method="cost", value_yuan=Decimal("1"),
                     reason="x")  # fmt: skip


def test_the_cockpit_counts_products_put_on_offer_scenarios_served_and_asset_units(
    session: Session, city: ProductsCity
) -> None:
    from citybase.cockpit.indicators.measures import MEASURES, Window
    from citybase.data.products.schemas import AssetCreate, ScenarioCreate, ScenarioLink

    s = city.settings.products
    before = datetime.now(UTC) - timedelta(seconds=1)
    kept = listed_product(session, city)
    gone = listed_product(session, city, name="井盖统计报告", kind="report")
    served = service.create_scenario(session, city.bureau, s, ScenarioCreate(
        name="城市部件智能巡检", sector="城市治理", owner_unit_code="fz.urban"))  # fmt: skip
    service.create_scenario(session, city.bureau, s, ScenarioCreate(
        name="停车诱导", sector="交通出行", owner_unit_code="fz.urban"))  # fmt: skip
    number = service.get_accessible_product(session, city.bureau, s, gone).number
    service.link_product(session, city.people["opa"], s, served.id,
                         ScenarioLink(product_number=number))  # fmt: skip
    now = datetime.now(UTC)
    assert service.count_scenarios_served(session, now) == 1
    service.delist_product(session, city.people["opa"], s, gone, ProductAction(reason="停止运营"))
    later = datetime.now(UTC) + timedelta(seconds=1)
    # put on offer counts what was ever listed; served counts what is listed now
    assert service.count_ever_listed(session, later) == 2
    assert service.count_listed_products(session, later) == 1
    assert service.count_scenarios_served(session, later) == 0
    assert service.count_scenarios_at(session, later) == 2
    assert service.count_ever_listed(session, before) == 0
    service.record_asset(session, city.people["urbansteward"], AssetCreate(
        subject_kind="resource", subject_code=city.manholes.code, cost_yuan=Decimal("10"),
        method="cost", value_yuan=Decimal("10")))  # fmt: skip
    assert service.count_asset_units(session, later + timedelta(seconds=1)) == 1
    window = Window("2099-01", before, later + timedelta(seconds=1))
    assert kept
    figures = {k: MEASURES[k].count(session, window) for k in (
        "data.products.listed", "data.products.scenarios", "data.products.scenarios_served",
        "data.products.asset_units")}  # fmt: skip
    assert figures == {"data.products.listed": 2.0, "data.products.scenarios": 2.0,
                       "data.products.scenarios_served": 0.0, "data.products.asset_units": 1.0}  # fmt: skip
