"""Every query of the products domain's tables."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, and_, func, or_, select
from sqlalchemy.orm import Session

from citybase.data.products.models import (
    AssetEntry,
    DataAsset,
    DataProduct,
    OperationAgreement,
    ProductContract,
    ProductDelivery,
    ProductNegotiation,
    ProductScenario,
    Scenario,
)


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def next_number(session: Session, model: Any, prefix: str) -> str:
    """The next number of a series (``SQYY-2026-0007``): one more than those of the prefix."""
    taken = session.scalar(
        select(func.count()).select_from(model).where(model.number.startswith(f"{prefix}-", autoescape=True))
    ) or 0  # fmt: skip
    return f"{prefix}-{taken + 1:04d}"


# --- agreements -----------------------------------------------------------------------------------


def agreement(session: Session, agreement_id: int) -> OperationAgreement | None:
    return session.get(OperationAgreement, agreement_id)


def agreement_by_number(session: Session, number: str) -> OperationAgreement | None:
    return session.scalar(select(OperationAgreement).where(OperationAgreement.number == number))


def agreements(session: Session, unit_code: str | None = None) -> list[OperationAgreement]:
    query = select(OperationAgreement).order_by(OperationAgreement.id.desc())
    if unit_code is not None:
        query = query.where(OperationAgreement.operator_unit_code == unit_code)
    return list(session.scalars(query))


def agreements_past_end(
    session: Session, today: date, limit: int = 1000
) -> list[OperationAgreement]:
    """Agreements in force or suspended whose last day is before ``today``."""
    return list(session.scalars(
        select(OperationAgreement)
        .where(OperationAgreement.status.in_(("signed", "suspended")),
               OperationAgreement.ends_on < today)
        .order_by(OperationAgreement.id).limit(limit)
    ))  # fmt: skip


def agreements_by_id(session: Session, ids: Iterable[int]) -> dict[int, OperationAgreement]:
    wanted = set(ids)
    if not wanted:
        return {}
    found = session.scalars(select(OperationAgreement).where(OperationAgreement.id.in_(wanted)))
    return {a.id: a for a in found}


# --- products -------------------------------------------------------------------------------------


def product(session: Session, product_id: int) -> DataProduct | None:
    return session.get(DataProduct, product_id)


def product_by_number(session: Session, number: str) -> DataProduct | None:
    return session.scalar(select(DataProduct).where(DataProduct.number == number))


def products(
    session: Session, *, owner: str | None = None, status: str | None = None,
    agreement_id: int | None = None, limit: int = 500,
) -> list[DataProduct]:  # fmt: skip
    query = select(DataProduct).order_by(DataProduct.id.desc()).limit(limit)
    if owner is not None:
        query = query.where(DataProduct.owner_unit_code == owner)
    if status is not None:
        query = query.where(DataProduct.status == status)
    if agreement_id is not None:
        query = query.where(DataProduct.agreement_id == agreement_id)
    return list(session.scalars(query))


def _on_offer(today: date) -> Any:
    """Listed, and made by a unit or under an agreement live today."""
    live = and_(
        OperationAgreement.status == "signed",
        OperationAgreement.starts_on <= today,
        OperationAgreement.ends_on >= today,
    )
    return and_(
        DataProduct.status == "listed",
        or_(DataProduct.agreement_id.is_(None), live),
    )


def offered(
    session: Session, today: date, *, kind: str | None = None, sector: str = "",
    price_model: str | None = None,
) -> list[Row[Any]]:  # fmt: skip
    """What the catalog matches and counts, for every product on offer: its id, name, tokens and
    facet values (not the whole row: the page's few are read by ``products_by_id``)."""
    query = (
        select(DataProduct.id, DataProduct.name, DataProduct.search_tokens, DataProduct.kind,
               DataProduct.sector, DataProduct.price_model, DataProduct.number)
        .outerjoin(OperationAgreement, OperationAgreement.id == DataProduct.agreement_id)
        .where(_on_offer(today))
    )  # fmt: skip
    if kind:
        query = query.where(DataProduct.kind == kind)
    if sector:
        query = query.where(DataProduct.sector == sector)
    if price_model:
        query = query.where(DataProduct.price_model == price_model)
    return list(session.execute(query.order_by(DataProduct.listed_at.desc(), DataProduct.id)))


def products_by_id(session: Session, ids: Iterable[int]) -> dict[int, DataProduct]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {p.id: p for p in session.scalars(select(DataProduct).where(DataProduct.id.in_(wanted)))}


def is_offered(session: Session, product_id: int, today: date) -> bool:
    found = session.scalar(
        select(func.count()).select_from(DataProduct)
        .outerjoin(OperationAgreement, OperationAgreement.id == DataProduct.agreement_id)
        .where(DataProduct.id == product_id, _on_offer(today))
    )  # fmt: skip
    return bool(found)


def count_listed(session: Session, at: datetime) -> int:
    """Products listed at ``at``: listed before it and not delisted by then."""
    return session.scalar(
        select(func.count()).select_from(DataProduct).where(
            DataProduct.listed_at.is_not(None), DataProduct.listed_at <= at,
            or_(DataProduct.status == "listed", DataProduct.delisted_at > at),
        )
    ) or 0  # fmt: skip


def count_ever_listed(session: Session, at: datetime) -> int:
    """Products listed by ``at``, whether still listed or delisted since (上线累计)."""
    return session.scalar(
        select(func.count()).select_from(DataProduct).where(
            DataProduct.listed_at.is_not(None), DataProduct.listed_at <= at
        )
    ) or 0  # fmt: skip


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(DataProduct.status, func.count()).group_by(DataProduct.status)
    ).all()
    return {status: count for status, count in rows}


# --- scenarios ------------------------------------------------------------------------------------


def scenario(session: Session, scenario_id: int) -> Scenario | None:
    return session.get(Scenario, scenario_id)


def scenario_by_name(session: Session, name: str) -> Scenario | None:
    return session.scalar(select(Scenario).where(Scenario.name == name))


def scenarios(session: Session, sector: str = "") -> list[Scenario]:
    query = select(Scenario).order_by(Scenario.sector, Scenario.id)
    if sector:
        query = query.where(Scenario.sector == sector)
    return list(session.scalars(query))


def count_scenarios(session: Session, status: str | None = None) -> int:
    query = select(func.count()).select_from(Scenario)
    if status:
        query = query.where(Scenario.status == status)
    return session.scalar(query) or 0


def count_scenarios_at(session: Session, at: datetime) -> int:
    """Scenarios registered by ``at``."""
    return session.scalar(
        select(func.count()).select_from(Scenario).where(Scenario.created_at <= at)
    ) or 0  # fmt: skip


def count_scenarios_served(session: Session, at: datetime) -> int:
    """Scenarios served at ``at`` by at least one product listed then."""
    listed = select(DataProduct.id).where(
        DataProduct.listed_at.is_not(None), DataProduct.listed_at <= at,
        or_(DataProduct.status == "listed", DataProduct.delisted_at > at),
    )  # fmt: skip
    return session.scalar(
        select(func.count(func.distinct(ProductScenario.scenario_id)))
        .join(Scenario, Scenario.id == ProductScenario.scenario_id)
        .where(ProductScenario.product_id.in_(listed), Scenario.created_at <= at)
    ) or 0  # fmt: skip


def linked(session: Session, product_id: int, scenario_id: int) -> bool:
    return session.get(ProductScenario, (product_id, scenario_id)) is not None


def scenarios_of(session: Session, product_ids: Iterable[int]) -> dict[int, list[int]]:
    wanted = set(product_ids)
    found: dict[int, list[int]] = defaultdict(list)
    if wanted:
        for link in session.scalars(
            select(ProductScenario).where(ProductScenario.product_id.in_(wanted))
        ):
            found[link.product_id].append(link.scenario_id)
    return found


def products_of(session: Session, scenario_ids: Iterable[int]) -> dict[int, list[str]]:
    wanted = set(scenario_ids)
    found: dict[int, list[str]] = defaultdict(list)
    if wanted:
        rows = session.execute(
            select(ProductScenario.scenario_id, DataProduct.number)
            .join(DataProduct, DataProduct.id == ProductScenario.product_id)
            .where(ProductScenario.scenario_id.in_(wanted)).order_by(DataProduct.number)
        ).all()  # fmt: skip
        for scenario_id, number in rows:
            found[scenario_id].append(number)
    return found


# --- assets ---------------------------------------------------------------------------------------


def asset(session: Session, asset_id: int) -> DataAsset | None:
    return session.get(DataAsset, asset_id)


def assets(session: Session, unit_code: str | None = None) -> list[DataAsset]:
    query = select(DataAsset).order_by(DataAsset.id.desc())
    if unit_code is not None:
        query = query.where(DataAsset.unit_code == unit_code)
    return list(session.scalars(query))


def asset_of(session: Session, unit_code: str, kind: str, code: str) -> DataAsset | None:
    return session.scalar(
        select(DataAsset).where(DataAsset.unit_code == unit_code,
                                DataAsset.subject_kind == kind, DataAsset.subject_code == code)
    )  # fmt: skip


def entries(session: Session, asset_id: int) -> list[AssetEntry]:
    return list(session.scalars(
        select(AssetEntry).where(AssetEntry.asset_id == asset_id).order_by(AssetEntry.version)
    ))  # fmt: skip


def count_asset_units(session: Session, at: datetime) -> int:
    """Units (or operators) that had recorded at least one data asset by ``at``."""
    return session.scalar(
        select(func.count(func.distinct(DataAsset.unit_code))).where(DataAsset.created_at <= at)
    ) or 0  # fmt: skip


def count_assets(session: Session) -> tuple[int, int]:
    """How many assets, and their value in fen."""
    row = session.execute(
        select(func.count(), func.coalesce(func.sum(DataAsset.value_fen), 0))
    ).one()
    return int(row[0]), int(row[1])


# --- negotiations and contracts -------------------------------------------------------------------


def negotiation(session: Session, negotiation_id: int) -> ProductNegotiation | None:
    return session.get(ProductNegotiation, negotiation_id)


def negotiation_by_pid(session: Session, provider_pid: str) -> ProductNegotiation | None:
    return session.scalar(
        select(ProductNegotiation).where(ProductNegotiation.provider_pid == provider_pid)
    )


def negotiations(
    session: Session, unit_code: str | None = None, limit: int = 500
) -> list[ProductNegotiation]:
    """Every negotiation (``unit_code`` None), or those the unit takes part in either side."""
    query = select(ProductNegotiation).order_by(ProductNegotiation.id.desc()).limit(limit)
    if unit_code is not None:
        query = query.where(or_(ProductNegotiation.customer_unit_code == unit_code,
                                ProductNegotiation.provider_unit_code == unit_code))  # fmt: skip
    return list(session.scalars(query))


def contract(session: Session, contract_id: int) -> ProductContract | None:
    return session.get(ProductContract, contract_id)


def contract_for_update(session: Session, contract_id: int) -> ProductContract | None:
    """The contract, locked until the transaction ends (PostgreSQL), so that two deliveries
    at once cannot both pass a limit that only one of them fits in."""
    return session.scalar(
        select(ProductContract).where(ProductContract.id == contract_id).with_for_update()
    )


def contracts(
    session: Session, unit_code: str | None = None, limit: int = 500
) -> list[ProductContract]:
    query = select(ProductContract).order_by(ProductContract.id.desc()).limit(limit)
    if unit_code is not None:
        query = query.where(or_(ProductContract.customer_unit_code == unit_code,
                                ProductContract.provider_unit_code == unit_code))  # fmt: skip
    return list(session.scalars(query))


def contracts_past_term(
    session: Session, now: datetime, limit: int = 1000
) -> list[ProductContract]:
    return list(session.scalars(
        select(ProductContract)
        .where(ProductContract.status == "in_force", ProductContract.ends_at <= now)
        .order_by(ProductContract.id).limit(limit)
    ))  # fmt: skip


def contracts_by_id(session: Session, ids: Iterable[int]) -> dict[int, ProductContract]:
    wanted = set(ids)
    if not wanted:
        return {}
    found = session.scalars(select(ProductContract).where(ProductContract.id.in_(wanted)))
    return {c.id: c for c in found}


def count_contracts(session: Session, at: datetime) -> int:
    return session.scalar(
        select(func.count()).select_from(ProductContract).where(
            ProductContract.starts_at <= at, ProductContract.ends_at > at,
            or_(ProductContract.revoked_at.is_(None), ProductContract.revoked_at > at),
        )
    ) or 0  # fmt: skip


def deliveries(session: Session, contract_id: int, limit: int = 100) -> list[ProductDelivery]:
    return list(session.scalars(
        select(ProductDelivery).where(ProductDelivery.contract_id == contract_id)
        .order_by(ProductDelivery.id.desc()).limit(limit)
    ))  # fmt: skip


def delivery_sums(
    session: Session, side: str, unit_code: str, start: datetime, end: datetime
) -> list[Row[Any]]:
    """Per contract and outcome, a unit's deliveries in [start, end) as customer or provider:
    how many, their rows, bytes and price (fen)."""
    column = (ProductDelivery.customer_unit_code if side == "customer"
              else ProductDelivery.provider_unit_code)  # fmt: skip
    query = (
        select(
            ProductDelivery.contract_id, ProductDelivery.outcome,
            func.count().label("calls"), func.coalesce(func.sum(ProductDelivery.rows), 0).label("rows"),
            func.coalesce(func.sum(ProductDelivery.bytes), 0).label("bytes"),
            func.coalesce(func.sum(ProductDelivery.price_fen), 0).label("price_fen"),
        )
        .where(column == unit_code, ProductDelivery.at >= start, ProductDelivery.at < end)
        .group_by(ProductDelivery.contract_id, ProductDelivery.outcome)
    )  # fmt: skip
    return list(session.execute(query))


def revenue_sums(
    session: Session, start: datetime, end: datetime, provider: str | None = None
) -> list[Row[Any]]:
    """Per contract and outcome, the deliveries in [start, end) — every provider's, or one's:
    how many, their rows, bytes and price (fen)."""
    query = (
        select(
            ProductDelivery.contract_id, ProductDelivery.outcome,
            func.count().label("calls"), func.coalesce(func.sum(ProductDelivery.rows), 0).label("rows"),
            func.coalesce(func.sum(ProductDelivery.bytes), 0).label("bytes"),
            func.coalesce(func.sum(ProductDelivery.price_fen), 0).label("price_fen"),
        )
        .where(ProductDelivery.at >= start, ProductDelivery.at < end)
        .group_by(ProductDelivery.contract_id, ProductDelivery.outcome)
    )  # fmt: skip
    if provider is not None:
        query = query.where(ProductDelivery.provider_unit_code == provider)
    return list(session.execute(query))
