"""Data products, authorized operation and trusted circulation (授权运营、数据产品、可信流通):
the face other domains (and the cockpit's counts) import.

- ``agreements``: the bureau grants an operator company an operation agreement, reviews it, the
  operator signs it, the bureau suspends, resumes or ends it — ending or suspending delists
  what it carried (here, in ``suspend_agreement`` / ``end_agreement``).
- ``registration``: products registered with their compliance checks, reviewed, listed with
  their ODRL offer, delisted; the catalog customers search in Chinese.
- ``assets``: the scenario register and the units' data assets with every valuation kept.
- ``negotiation``: a customer company asks for a listed product; the negotiation follows the
  Dataspace Protocol's states to an ODRL Agreement, which is the contract.
- ``contracts``: who may see and move a negotiation; contracts, their revocation, expiry and
  per-contract key.
- ``delivery``: rows fetched under a contract with its key, decided by its ODRL policy, through
  the one traced read, metered and priced; refusals kept and traced too.
- ``files``: the same deliveries as signed files (CSV, JSON Lines) with a detached SM2
  signature by the providing unit, and their verification.
- ``analysis``: a sandbox product's deliveries: the privacy sandbox's released answer to a
  query asked under the contract.
- ``transfers``: the Dataspace Protocol's transfer processes under a contract: a pull's data
  address with a short-lived token; revoking a contract (here) terminates its open transfers.
- ``metering``: monthly statements per customer and per provider.
- ``revenue``: the bureau's revenue reports (有偿使用收入报表) over a period, by product,
  provider, scenario and customer; a provider's for its own products.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.settings import ProductsSettings
from citybase.data.products import agreements, repository, revenue
from citybase.data.products.agreements import (
    get_accessible_agreement,
    get_accessible_agreements,
    grant_agreement,
    is_bureau,
    review_agreement,
    sign_agreement,
)
from citybase.data.products.analysis import deliver_analysis
from citybase.data.products.assets import (
    create_scenario,
    get_accessible_asset,
    get_accessible_assets,
    link_product,
    list_scenarios,
    record_asset,
    revalue_asset,
)
from citybase.data.products.contracts import (
    get_accessible_contract,
    get_accessible_contracts,
    get_accessible_negotiation,
    get_accessible_negotiations,
    issue_contract_key,
)
from citybase.data.products.delivery import DeliveryRefused, deliver, get_deliveries
from citybase.data.products.files import (
    DeliveredFile,
    deliver_file,
    get_file_signature,
    read_signature,
    verify_file,
    verify_file_online,
)
from citybase.data.products.metering import monthly_statement, this_month
from citybase.data.products.negotiation import (
    accept_offer,
    agree_contract,
    offer_terms,
    request_product,
    terminate_negotiation,
    verify_agreement,
)
from citybase.data.products.registration import (
    delist_product,
    delist_under,
    get_accessible_product,
    get_accessible_products,
    list_product,
    register_product,
    reindex_catalog,
    review_product,
    search_catalog,
)
from citybase.data.products.revenue import (
    Period,
    RevenueReport,
    parse_period,
    revenue_report,
)
from citybase.data.products.revenue import to_csv as revenue_csv
from citybase.data.products.revenue import to_xlsx as revenue_xlsx
from citybase.data.products.samples import read_sample
from citybase.data.products.schemas import AgreementAction, AgreementRead
from citybase.data.products.transfers import record_expiries, revoke_contract

__all__ = [
    "DeliveredFile",
    "DeliveryRefused",
    "Period",
    "RevenueReport",
    "accept_offer",
    "agree_contract",
    "count_asset_units",
    "count_assets",
    "count_contracts",
    "count_ever_listed",
    "count_listed_products",
    "count_products_by_status",
    "count_scenarios",
    "count_scenarios_at",
    "count_scenarios_served",
    "create_scenario",
    "delist_product",
    "deliver",
    "deliver_analysis",
    "deliver_file",
    "end_agreement",
    "get_accessible_agreement",
    "get_accessible_agreements",
    "get_accessible_asset",
    "get_accessible_assets",
    "get_accessible_contract",
    "get_accessible_contracts",
    "get_accessible_negotiation",
    "get_accessible_negotiations",
    "get_accessible_product",
    "get_accessible_products",
    "get_deliveries",
    "get_file_signature",
    "grant_agreement",
    "is_bureau",
    "issue_contract_key",
    "link_product",
    "list_product",
    "list_scenarios",
    "monthly_statement",
    "offer_terms",
    "paid_revenue",
    "parse_period",
    "read_sample",
    "read_signature",
    "record_agreement_ends",
    "record_asset",
    "record_expiries",
    "register_product",
    "reindex_catalog",
    "request_product",
    "resume_agreement",
    "revalue_asset",
    "revenue_csv",
    "revenue_report",
    "revenue_xlsx",
    "review_agreement",
    "review_product",
    "revoke_contract",
    "search_catalog",
    "sign_agreement",
    "suspend_agreement",
    "terminate_negotiation",
    "this_month",
    "verify_agreement",
    "verify_file",
    "verify_file_online",
]


def _change(
    session: Session, principal: Principal, settings: ProductsSettings, agreement_id: int,
    action: str, data: AgreementAction,
) -> AgreementRead:  # fmt: skip
    agreement = agreements.change_agreement(
        session, principal, settings, agreement_id, action, data
    )
    if action in ("suspend", "end"):
        delist_under(session, actor_of(principal), agreement, data.reason)
    return agreements.read_agreements(session, [agreement])[0]


def suspend_agreement(
    session: Session, principal: Principal, settings: ProductsSettings, agreement_id: int,
    data: AgreementAction,
) -> AgreementRead:  # fmt: skip
    """The bureau suspends an agreement: its listed products are delisted."""
    return _change(session, principal, settings, agreement_id, "suspend", data)


def resume_agreement(
    session: Session, principal: Principal, settings: ProductsSettings, agreement_id: int,
    data: AgreementAction,
) -> AgreementRead:  # fmt: skip
    """A suspended agreement in force again (its products are listed again one by one)."""
    return _change(session, principal, settings, agreement_id, "resume", data)


def end_agreement(
    session: Session, principal: Principal, settings: ProductsSettings, agreement_id: int,
    data: AgreementAction,
) -> AgreementRead:  # fmt: skip
    """The bureau ends an agreement for good: its listed products are delisted."""
    return _change(session, principal, settings, agreement_id, "end", data)


def record_agreement_ends(session: Session, today: date | None = None) -> int:
    """Agreements whose last day is past are ended on the ledger and their listed products
    delisted, each with its own entry and event (the hourly job, so it happens on the day).
    Returns how many agreements."""
    ended = agreements.record_ends_of_term(session, today)
    for agreement in ended:
        delist_under(session, agreements.TERM, agreement, agreements.END_OF_TERM)
    return len(ended)


# --- figures for the cockpit ----------------------------------------------------------------------


def count_listed_products(session: Session, at: datetime | None = None) -> int:
    """Products listed at ``at`` (now by default): listed by then and not delisted since."""
    return repository.count_listed(session, at or datetime.now(UTC))


def count_ever_listed(session: Session, at: datetime | None = None) -> int:
    """Products listed by ``at`` (now by default), delisted since or not: the plans'
    cumulative count of products put on offer (上线累计)."""
    return repository.count_ever_listed(session, at or datetime.now(UTC))


def count_scenarios_at(session: Session, at: datetime) -> int:
    """Scenarios in the register (数据要素应用场景储备库) by ``at``."""
    return repository.count_scenarios_at(session, at)


def count_scenarios_served(session: Session, at: datetime) -> int:
    """Scenarios that products listed at ``at`` serve."""
    return repository.count_scenarios_served(session, at)


def count_asset_units(session: Session, at: datetime) -> int:
    """Units that had recorded a data asset by ``at`` (the data-asset pilots' count)."""
    return repository.count_asset_units(session, at)


def count_products_by_status(session: Session) -> dict[str, int]:
    return repository.count_by_status(session)


def count_scenarios(session: Session, status: str | None = None) -> int:
    return repository.count_scenarios(session, status)


def count_assets(session: Session) -> tuple[int, int]:
    """Data assets recorded, and their total value in fen."""
    return repository.count_assets(session)


def count_contracts(session: Session, at: datetime | None = None) -> int:
    """Contracts in force at ``at`` (now by default): concluded by then, not revoked by
    then, their term not over."""
    return repository.count_contracts(session, at or datetime.now(UTC))


def paid_revenue(session: Session, start: datetime, end: datetime) -> Decimal:
    """What the paid use of public data earned across the city over [start, end), in yuan
    (有偿使用收入; use free of charge is not counted)."""
    return revenue.paid_revenue(session, start, end)
