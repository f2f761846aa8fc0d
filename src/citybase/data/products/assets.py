"""The scenario register (数据要素应用场景储备库) and data assets (数据资产): a unit records one
of its resources or products as an asset, with its cost, expected benefit, valuation method
(cost, income or market) and value; every revaluation is kept as a new entry."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.errors import Conflict, Forbidden, NotFound
from citybase.core.identity.schemas import Principal, Role
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.orgs import service as orgs
from citybase.core.settings import ProductsSettings
from citybase.data.catalog import service as catalog
from citybase.data.products import agreements, repository
from citybase.data.products.models import AssetEntry, DataAsset, ProductScenario, Scenario
from citybase.data.products.schemas import (
    AssetCreate,
    AssetEntryRead,
    AssetRead,
    AssetRevalue,
    ScenarioCreate,
    ScenarioLink,
    ScenarioRead,
    SubjectKind,
    ValuationMethod,
    to_fen,
    to_yuan,
)

# --- scenarios ------------------------------------------------------------------------------------


def list_scenarios(
    session: Session, principal: Principal, settings: ProductsSettings, sector: str = ""
) -> list[ScenarioRead]:
    """Every scenario, with the products serving it (those on offer; the bureau sees all)."""
    rows = repository.scenarios(session, sector)
    numbers = repository.products_of(session, [s.id for s in rows])
    if not agreements.is_bureau(principal, settings):
        offered = repository.offered_numbers(session, clock.today())
        numbers = {k: [n for n in v if n in offered] for k, v in numbers.items()}
    return [
        ScenarioRead.model_validate(s).model_copy(update={"product_numbers": numbers.get(s.id, [])})
        for s in rows
    ]


def create_scenario(
    session: Session, principal: Principal, settings: ProductsSettings, data: ScenarioCreate
) -> ScenarioRead:
    agreements.require_bureau(principal, settings)
    orgs.get_unit(session, data.owner_unit_code)  # raises naming the field when unknown
    if repository.scenario_by_name(session, data.name) is not None:
        raise Conflict(f"a scenario named {data.name} exists", field="name")
    scenario = Scenario(**data.model_dump(mode="python"))
    repository.add(session, scenario)
    ledger.record(
        session, actor_of(principal), "products.scenario.create", object_type="scenario",
        object_id=scenario.id, reason=data.description[:200] or data.name,
        details={"name": data.name, "sector": data.sector, "owner": data.owner_unit_code},
    )  # fmt: skip
    return ScenarioRead.model_validate(scenario)


def link_product(
    session: Session, principal: Principal, settings: ProductsSettings, scenario_id: int,
    data: ScenarioLink,
) -> ScenarioRead:  # fmt: skip
    """A product serves a scenario: linked by the bureau, or by the product's own unit."""
    scenario = repository.scenario(session, scenario_id)
    if scenario is None:
        raise NotFound(f"no scenario {scenario_id}", field="scenario")
    product = repository.product_by_number(session, data.product_number)
    if product is None:
        raise NotFound(f"no data product {data.product_number}", field="product_number")
    if not agreements.is_bureau(principal, settings) and product.owner_unit_code != (
        principal.unit_code or "-"
    ):
        raise Forbidden(f"product {product.number} is linked by its unit or the bureau",
                        field="product_number")  # fmt: skip
    if not repository.linked(session, product.id, scenario.id):
        repository.add(session, ProductScenario(product_id=product.id, scenario_id=scenario.id))
        ledger.record(
            session, actor_of(principal), "products.scenario.link", object_type="scenario",
            object_id=scenario.id, reason=f"{product.number} → {scenario.name}",
            details={"product": product.number},
        )  # fmt: skip
    numbers = repository.products_of(session, [scenario.id]).get(scenario.id, [])
    return ScenarioRead.model_validate(scenario).model_copy(update={"product_numbers": numbers})


# --- data assets ----------------------------------------------------------------------------------


def _entry_read(e: AssetEntry) -> AssetEntryRead:
    return AssetEntryRead(
        version=e.version, cost_yuan=to_yuan(e.cost_fen),
        expected_benefit_yuan=to_yuan(e.expected_benefit_fen), method=ValuationMethod(e.method),
        value_yuan=to_yuan(e.value_fen), reason=e.reason, changed_by=e.changed_by,
        changed_at=e.changed_at,
    )  # fmt: skip


def _asset_read(session: Session, asset: DataAsset, history: bool = False) -> AssetRead:
    return AssetRead(
        id=asset.id, number=asset.number, unit_code=asset.unit_code,
        subject_kind=SubjectKind(asset.subject_kind), subject_code=asset.subject_code,
        name=asset.name, cost_yuan=to_yuan(asset.cost_fen),
        expected_benefit_yuan=to_yuan(asset.expected_benefit_fen),
        method=ValuationMethod(asset.method), value_yuan=to_yuan(asset.value_fen),
        version=asset.version, updated_at=asset.updated_at,
        history=[_entry_read(e) for e in repository.entries(session, asset.id)] if history else [],
    )  # fmt: skip


def _sees_all(principal: Principal, settings: ProductsSettings) -> bool:
    return agreements.is_bureau(principal, settings) or principal.has_role(Role.auditor)


def get_accessible_assets(
    session: Session, principal: Principal, settings: ProductsSettings
) -> list[AssetRead]:
    """One's unit's assets; the bureau and auditors see every unit's."""
    unit = None if _sees_all(principal, settings) else (principal.unit_code or "-")
    return [_asset_read(session, a) for a in repository.assets(session, unit)]


def _accessible(
    session: Session, principal: Principal, settings: ProductsSettings, asset_id: int
) -> DataAsset:
    asset = repository.asset(session, asset_id)
    if asset is None or not (
        _sees_all(principal, settings) or asset.unit_code == principal.unit_code
    ):
        raise NotFound(f"no data asset {asset_id}", field="asset")
    return asset


def get_accessible_asset(
    session: Session, principal: Principal, settings: ProductsSettings, asset_id: int
) -> AssetRead:
    """An asset with every entry of its history."""
    return _asset_read(session, _accessible(session, principal, settings, asset_id), history=True)


def _subject_name(session: Session, principal: Principal, data: AssetCreate) -> str:
    if data.subject_kind is SubjectKind.resource:
        resource = catalog.get_resource(session, data.subject_code)  # NotFound names the code
        owner, name = resource.provider_unit_code, resource.name
    else:
        product = repository.product_by_number(session, data.subject_code)
        if product is None:
            raise NotFound(f"no data product {data.subject_code}", field="subject_code")
        owner, name = product.owner_unit_code, product.name
    if owner != principal.unit_code:
        raise Forbidden(f"{data.subject_code} is {owner}'s: a unit records its own data as an "
                        "asset", field="subject_code")  # fmt: skip
    return name


def _entry(asset: DataAsset, reason: str, by: str) -> AssetEntry:
    return AssetEntry(
        asset_id=asset.id, version=asset.version, cost_fen=asset.cost_fen,
        expected_benefit_fen=asset.expected_benefit_fen, method=asset.method,
        value_fen=asset.value_fen, reason=reason, changed_by=by, changed_at=datetime.now(UTC),
    )  # fmt: skip


def record_asset(session: Session, principal: Principal, data: AssetCreate) -> AssetRead:
    """数据资产登记: one of the unit's resources or products, at its first valuation."""
    name = _subject_name(session, principal, data)
    unit = principal.unit_code
    if repository.asset_of(session, unit, data.subject_kind.value, data.subject_code):
        raise Conflict(f"{data.subject_code} is already an asset of {unit}: revalue it",
                       field="subject_code")  # fmt: skip
    asset = DataAsset(
        number=repository.next_number(session, DataAsset, f"ZC-{clock.today().year}"),
        unit_code=unit, subject_kind=data.subject_kind.value, subject_code=data.subject_code,
        name=name, cost_fen=to_fen(data.cost_yuan),
        expected_benefit_fen=to_fen(data.expected_benefit_yuan), method=data.method.value,
        value_fen=to_fen(data.value_yuan), version=1,
    )  # fmt: skip
    repository.add(session, asset)
    by = actor_of(principal).name
    repository.add(session, _entry(asset, "入表", by))
    _record(session, principal, asset, "record", "数据资产登记")
    return _asset_read(session, asset, history=True)


def revalue_asset(
    session: Session, principal: Principal, settings: ProductsSettings, asset_id: int,
    data: AssetRevalue,
) -> AssetRead:  # fmt: skip
    """A new valuation: the entry before it stays in the history."""
    asset = _accessible(session, principal, settings, asset_id)
    if asset.unit_code != principal.unit_code:
        raise Forbidden(f"asset {asset.number} is revalued by {asset.unit_code}", field="unit")
    asset.cost_fen = to_fen(data.cost_yuan)
    asset.expected_benefit_fen = to_fen(data.expected_benefit_yuan)
    asset.method = data.method.value
    asset.value_fen = to_fen(data.value_yuan)
    asset.version += 1
    repository.add(session, _entry(asset, data.reason, actor_of(principal).name))
    _record(session, principal, asset, "revalue", data.reason)
    return _asset_read(session, asset, history=True)


def _record(
    session: Session, principal: Principal, asset: DataAsset, what: str, reason: str
) -> None:
    ledger.record(
        session, actor_of(principal), f"products.asset.{what}", object_type="data_asset",
        object_id=asset.number, reason=reason,
        details={"unit": asset.unit_code, "subject": f"{asset.subject_kind}:{asset.subject_code}",
                 "method": asset.method, "value_fen": asset.value_fen, "version": asset.version},
    )  # fmt: skip
