"""Every query of the products domain's tables."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    String,
    and_,
    case,
    cast,
    column,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    table,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from citybase.data.products.models import (
    CATALOG_FTS,
    AssetEntry,
    CatalogEntry,
    DataAsset,
    DataProduct,
    OperationAgreement,
    ProductContract,
    ProductDelivery,
    ProductNegotiation,
    ProductScenario,
    ProductTransfer,
    Scenario,
)
from citybase.data.search import tokens


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


def _live(today: date) -> Any:
    """The (outer-joined) operation agreement is live today."""
    return and_(
        OperationAgreement.status == "signed",
        OperationAgreement.starts_on <= today,
        OperationAgreement.ends_on >= today,
    )


def _on_offer(today: date) -> Any:
    """Listed, and made by a unit or under an agreement live today."""
    return and_(
        DataProduct.status == "listed",
        or_(DataProduct.agreement_id.is_(None), _live(today)),
    )


def offered_numbers(session: Session, today: date) -> set[str]:
    """The numbers of the products on offer today."""
    return set(session.scalars(
        select(DataProduct.number)
        .outerjoin(OperationAgreement, OperationAgreement.id == DataProduct.agreement_id)
        .where(_on_offer(today))
    ))  # fmt: skip


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


# --- the catalog's index -------------------------------------------------------------------------

_catalog_fts = table(CATALOG_FTS, column("rowid"))
CATALOG_FACETS = ("kind", "sector", "price_model")


def put_in_catalog(session: Session, product: DataProduct, name_tokens: str) -> None:
    """The product's entry in the catalog's index, written or brought up to date."""
    values = {
        "agreement_id": product.agreement_id, "kind": product.kind, "sector": product.sector,
        "price_model": product.price_model, "listed_at": product.listed_at,
        "name_tokens": name_tokens, "search_tokens": product.search_tokens,
    }  # fmt: skip
    entry = session.get(CatalogEntry, product.id)
    if entry is None:
        session.add(CatalogEntry(product_id=product.id, **values))
    else:
        for key, value in values.items():
            setattr(entry, key, value)
    session.flush()


def take_out_of_catalog(session: Session, product_id: int) -> None:
    session.execute(delete(CatalogEntry).where(CatalogEntry.product_id == product_id))


def listed_products(session: Session) -> list[Row[Any]]:
    """What the index holds of every listed product, and its name (to make its tokens)."""
    return list(session.execute(
        select(DataProduct.id, DataProduct.agreement_id, DataProduct.kind, DataProduct.sector,
               DataProduct.price_model, DataProduct.listed_at, DataProduct.search_tokens,
               DataProduct.name)
        .where(DataProduct.status == "listed", DataProduct.listed_at.is_not(None))
    ))  # fmt: skip


def replace_catalog(session: Session, entries: list[dict[str, Any]]) -> None:
    """The whole index replaced by these entries (a rebuild)."""
    session.execute(delete(CatalogEntry))
    for start in range(0, len(entries), 1000):
        session.execute(insert(CatalogEntry), entries[start : start + 1000])
    session.flush()


def count_catalog(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(CatalogEntry)) or 0


def _occurrences(tokenized: Any, pattern: str) -> ColumnElement[int]:
    """How often ``pattern`` occurs in a token string padded with a space each side (without
    overlap, as ``str.count``): what the string loses when it is taken out, in patterns."""
    padded = literal(" ") + tokenized + literal(" ")
    lost = func.length(padded) - func.length(func.replace(padded, pattern, ""))
    return lost // len(pattern)


def _pattern(term: list[str]) -> str:
    """A term as the text it is in a padded token string: a phrase as its tokens in a row, a
    prefix at a token's start."""
    if term[0].endswith("*"):
        return " " + term[0][:-1]
    return " " + " ".join(term) + " "


def _catalog_matching(
    session: Session, today: date, terms: list[list[str]], filters: dict[str, str],
    columns: list[Any],
) -> tuple[Select[Any], ColumnElement[int] | None]:  # fmt: skip
    """A select of the columns over the entries on offer today matching every term and filter,
    and the score: how often the terms occur in the name, sector and description, plus three
    times how often they occur in the name when all of them do (None without terms). The text
    index finds the candidates; the occurrences, counted in the database, decide and rank."""
    query = (
        select(*columns)
        .select_from(CatalogEntry)
        .outerjoin(OperationAgreement, OperationAgreement.id == CatalogEntry.agreement_id)
        .where(or_(CatalogEntry.agreement_id.is_(None), _live(today)))
    )
    for facet, value in filters.items():
        if value:
            query = query.where(CatalogEntry.__table__.c[facet] == value)
    if not terms:
        return query, None
    if session.get_bind().dialect.name == "sqlite":
        found = select(_catalog_fts.c.rowid).where(
            text(f"{CATALOG_FTS} MATCH :match").bindparams(match=tokens.fts5_query(terms))
        )
        query = query.where(CatalogEntry.product_id.in_(found))
    else:
        tsquery = func.to_tsquery("simple", tokens.tsquery(terms))
        query = query.where(CatalogEntry.search_vector.op("@@")(tsquery))
    patterns = [_pattern(term) for term in terms]
    hits = [_occurrences(CatalogEntry.search_tokens, p) for p in patterns]
    in_name = [_occurrences(CatalogEntry.name_tokens, p) for p in patterns]
    query = query.where(*(n > 0 for n in hits))
    score = sum(hits[1:], hits[0]) + case(
        (and_(*(n > 0 for n in in_name)), 3 * sum(in_name[1:], in_name[0])), else_=0
    )
    return query, score


def catalog_counts(
    session: Session, today: date, terms: list[list[str]], filters: dict[str, str]
) -> tuple[int, list[tuple[str, str, int]]]:
    """The number of entries matching, and (facet, value, count) for every facet value among
    them (one statement over the match, materialised once)."""
    columns = [CatalogEntry.product_id, *(CatalogEntry.__table__.c[f] for f in CATALOG_FACETS)]
    query, _ = _catalog_matching(session, today, terms, filters, columns)
    matched = query.cte("matched").prefix_with("MATERIALIZED")
    parts: list[Select[str, str, int]] = [
        select(literal("total"), cast(literal(""), String), func.count()).select_from(matched)
    ]
    for facet in CATALOG_FACETS:
        values = matched.c[facet]
        parts.append(
            select(literal(facet), cast(values, String), func.count())
            .select_from(matched).where(values != "").group_by(values)
        )  # fmt: skip
    total, counts = 0, []
    for facet, value, n in session.execute(union_all(*parts)):
        if facet == "total":
            total = n
        else:
            counts.append((facet, value, n))
    return total, counts


def catalog_page(
    session: Session, today: date, terms: list[list[str]], filters: dict[str, str], *,
    limit: int, offset: int,
) -> list[int]:  # fmt: skip
    """Product ids of one page of the match: best score first, then the newest listed."""
    query, score = _catalog_matching(session, today, terms, filters, [CatalogEntry.product_id])
    ordering: list[Any] = [CatalogEntry.listed_at.desc(), CatalogEntry.product_id]
    if score is not None:
        ordering.insert(0, score.desc())
    return list(session.scalars(query.order_by(*ordering).limit(limit).offset(offset)))


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


def delivery(session: Session, delivery_id: int) -> ProductDelivery | None:
    return session.get(ProductDelivery, delivery_id)


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


# --- transfer processes ---------------------------------------------------------------------------


def contract_by_number(session: Session, number: str) -> ProductContract | None:
    return session.scalar(select(ProductContract).where(ProductContract.number == number))


def transfer_by_pid(session: Session, provider_pid: str) -> ProductTransfer | None:
    return session.scalar(
        select(ProductTransfer).where(ProductTransfer.provider_pid == provider_pid)
    )


def transfer_by_key(session: Session, api_key_id: int) -> ProductTransfer | None:
    """The transfer whose data address carries this key, if any."""
    return session.scalar(select(ProductTransfer).where(ProductTransfer.api_key_id == api_key_id))


def transfers_of(
    session: Session, contract_id: int, states: Iterable[str] | None = None
) -> list[ProductTransfer]:
    query = select(ProductTransfer).where(ProductTransfer.contract_id == contract_id)
    if states is not None:
        query = query.where(ProductTransfer.state.in_(list(states)))
    return list(session.scalars(query.order_by(ProductTransfer.id)))
