"""The data products API: operation agreements, products and their catalog, the scenario
register and data assets, under /api/v1/products."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from citybase.core.errors import NotFound
from citybase.core.web.deps import AppSettings, DbSession, traced_read
from citybase.core.web.params import Id
from citybase.data.masking import operators as ops
from citybase.data.products import service
from citybase.data.products.auth import (
    AgreementsReader,
    AssetsKeeper,
    ProductsBrowser,
    ProductsGovernor,
    ProductsRegistrar,
)
from citybase.data.products.schemas import (
    AgreementAction,
    AgreementCreate,
    AgreementRead,
    AgreementReview,
    AssetCreate,
    AssetRead,
    AssetRevalue,
    CatalogPage,
    CatalogQuery,
    ProductAction,
    ProductCreate,
    ProductRead,
    ProductReview,
    ProductSample,
    ProductStatus,
    ScenarioCreate,
    ScenarioLink,
    ScenarioRead,
)

router = APIRouter(prefix="/api/v1/products", tags=["data products"])


# --- agreements -----------------------------------------------------------------------------------


@router.get("/agreements")
def list_agreements(
    session: DbSession, settings: AppSettings, principal: AgreementsReader
) -> list[AgreementRead]:
    """The bureau: every operation agreement; an operator: its company's."""
    return service.get_accessible_agreements(session, principal, settings.products)


@router.post("/agreements", status_code=201)
def grant_agreement(
    session: DbSession, settings: AppSettings, principal: ProductsGovernor, data: AgreementCreate
) -> AgreementRead:
    """The bureau grants an operator company (a unit of kind enterprise with a valid credit
    code) an agreement, to be reviewed and then signed by the operator."""
    return service.grant_agreement(session, principal, settings.products, data)


@router.get("/agreements/{agreement_id}")
def read_agreement(
    session: DbSession, settings: AppSettings, principal: AgreementsReader, agreement_id: Id
) -> AgreementRead:
    return service.get_accessible_agreement(session, principal, settings.products, agreement_id)


@router.post("/agreements/{agreement_id}/review")
def review_agreement(
    session: DbSession, settings: AppSettings, principal: ProductsGovernor, agreement_id: Id,
    data: AgreementReview,
) -> AgreementRead:  # fmt: skip
    return service.review_agreement(session, principal, settings.products, agreement_id, data)


@router.post("/agreements/{agreement_id}/sign")
def sign_agreement(
    session: DbSession, settings: AppSettings, principal: AgreementsReader, agreement_id: Id,
    data: AgreementAction,
) -> AgreementRead:  # fmt: skip
    """The operator signs its reviewed agreement: from its start date it is live."""
    return service.sign_agreement(session, principal, settings.products, agreement_id, data)


@router.post("/agreements/{agreement_id}/{action}")
def change_agreement(
    session: DbSession, settings: AppSettings, principal: ProductsGovernor, agreement_id: Id,
    action: str, data: AgreementAction,
) -> AgreementRead:  # fmt: skip
    """suspend, resume or end (suspending and ending delist the products it carried)."""
    verbs = {"suspend": service.suspend_agreement, "resume": service.resume_agreement,
             "end": service.end_agreement}  # fmt: skip
    if action not in verbs:
        raise NotFound(f"no step {action}: suspend, resume or end", field="action")
    return verbs[action](session, principal, settings.products, agreement_id, data)


# --- scenarios and assets (before /{product_id}, which would take their paths) ------------------


@router.get("/scenarios")
def list_scenarios(
    session: DbSession, settings: AppSettings, principal: ProductsBrowser, sector: str = ""
) -> list[ScenarioRead]:
    """数据要素应用场景储备库, with the products on offer serving each scenario."""
    return service.list_scenarios(session, principal, settings.products, sector[:40])


@router.post("/scenarios", status_code=201)
def create_scenario(
    session: DbSession, settings: AppSettings, principal: ProductsGovernor, data: ScenarioCreate
) -> ScenarioRead:
    return service.create_scenario(session, principal, settings.products, data)


@router.post("/scenarios/{scenario_id}/products")
def link_product(
    session: DbSession, settings: AppSettings, principal: ProductsRegistrar, scenario_id: Id,
    data: ScenarioLink,
) -> ScenarioRead:  # fmt: skip
    """A product serves the scenario (linked by the bureau or the product's unit)."""
    return service.link_product(session, principal, settings.products, scenario_id, data)


@router.get("/assets")
def list_assets(
    session: DbSession, settings: AppSettings, principal: AssetsKeeper
) -> list[AssetRead]:
    """One's unit's data assets (the bureau and auditors: every unit's)."""
    return service.get_accessible_assets(session, principal, settings.products)


@router.post("/assets", status_code=201)
def record_asset(session: DbSession, principal: AssetsKeeper, data: AssetCreate) -> AssetRead:
    """数据资产登记: one of the unit's resources or products, with its first valuation."""
    return service.record_asset(session, principal, data)


@router.get("/assets/{asset_id}")
def read_asset(
    session: DbSession, settings: AppSettings, principal: AssetsKeeper, asset_id: Id
) -> AssetRead:
    """An asset with every valuation it has had."""
    return service.get_accessible_asset(session, principal, settings.products, asset_id)


@router.post("/assets/{asset_id}/revalue")
def revalue_asset(
    session: DbSession, settings: AppSettings, principal: AssetsKeeper, asset_id: Id,
    data: AssetRevalue,
) -> AssetRead:  # fmt: skip
    return service.revalue_asset(session, principal, settings.products, asset_id, data)


# --- catalog and products -------------------------------------------------------------------------


@router.get("/catalog")
def search_catalog(
    session: DbSession, principal: ProductsBrowser, query: Annotated[CatalogQuery, Query()]
) -> CatalogPage:
    """Listed products on offer, searched in Chinese, with counts by kind, sector and price."""
    return service.search_catalog(session, query)


@router.get("")
def list_products(
    session: DbSession, settings: AppSettings, principal: ProductsRegistrar,
    status: ProductStatus | None = None,
) -> list[ProductRead]:  # fmt: skip
    """The products one manages: one's unit's (the bureau: every unit's)."""
    return service.get_accessible_products(session, principal, settings.products, status)


@router.post("", status_code=201)
def register_product(
    session: DbSession, principal: ProductsRegistrar, data: ProductCreate
) -> ProductRead:
    """数据产品登记. An operator names its live agreement; refused, naming the rule, when a
    source is outside it, a grade does not allow the kind, or personal data goes unmasked."""
    return service.register_product(session, principal, data)


@router.get("/{product_id}")
def read_product(
    session: DbSession, settings: AppSettings, principal: ProductsBrowser, product_id: Id
) -> ProductRead:
    return service.get_accessible_product(session, principal, settings.products, product_id)


@router.get("/{product_id}/sample")
@traced_read
def read_product_sample(
    session: DbSession, settings: AppSettings, principal: ProductsBrowser, product_id: Id,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> ProductSample:  # fmt: skip
    """A listed product's sample: a few of its rows, masked, read before any contract (traced
    as a read with the product as basis); refused above the configured handful and for
    personal, important or core data."""
    keys = ops.keys_for(settings.masking_key)
    return service.read_sample(session, principal, settings.products, keys, product_id, limit)


@router.post("/{product_id}/review")
def review_product(
    session: DbSession, settings: AppSettings, principal: ProductsGovernor, product_id: Id,
    data: ProductReview,
) -> ProductRead:  # fmt: skip
    return service.review_product(session, principal, settings.products, product_id, data)


@router.post("/{product_id}/list")
def list_product(
    session: DbSession, settings: AppSettings, principal: ProductsGovernor, product_id: Id,
    data: ProductAction,
) -> ProductRead:  # fmt: skip
    """上架 (the bureau), with the product's ODRL offer."""
    return service.list_product(session, principal, settings.products, product_id, data)


@router.post("/{product_id}/delist")
def delist_product(
    session: DbSession, settings: AppSettings, principal: ProductsRegistrar, product_id: Id,
    data: ProductAction,
) -> ProductRead:  # fmt: skip
    """下架 (the bureau, or the product's own unit)."""
    return service.delist_product(session, principal, settings.products, product_id, data)
