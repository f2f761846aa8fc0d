"""Contracts from negotiation (合同协商): a customer company asks for a listed product, the
provider (the product's operator or unit) offers terms and agrees, the customer accepts and
verifies, and the agreement — an ODRL 2.2 Agreement made from the product's offer with the
customer as assignee — becomes a contract in force until its term ends or it is revoked.

Here: reading negotiations and contracts, who may take which side, and the contract's own
verbs (revoke, the per-contract key). Moving a negotiation — by ``protocol.negotiation_step``,
the Dataspace Protocol 2024-1 state machine, with citybase as the provider — is
``negotiation.py``. The request, the offer, the agreement, every state change and every
contract step go on the ledger.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.errors import Conflict, Forbidden, NotFound
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import ApiKeyCreate, ApiKeyCreated, Principal
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.orgs.schemas import UnitKind
from citybase.core.settings import ProductsSettings, Settings
from citybase.data.products import agreements, policies, repository
from citybase.data.products.auth import PRODUCTS_DELIVER, PRODUCTS_REGISTER
from citybase.data.products.models import (
    DataProduct,
    ProductContract,
    ProductNegotiation,
    ProductTransfer,
)
from citybase.data.products.protocol import Role as Side
from citybase.data.products.schemas import (
    ContractAction,
    ContractRead,
    ContractRevoked,
    ContractStatus,
    NegotiationRead,
    ProductStatus,
)

RULE_CUSTOMER = "contract.customer_company"
RULE_PARTY = "contract.party"
RULE_PURPOSE = "contract.purpose"
RULE_TERM = "contract.term"
RULE_OFFER = "contract.offer"
RULE_ON_OFFER = "contract.product_on_offer"
PROVIDER = Actor.system("products-provider")  # who sends FINALIZED once verified


def unit_urn(code: str) -> str:
    """How a party is named in the ODRL policies and the protocol's messages."""
    return f"urn:citybase:unit:{code}"


def offer_uid(product: DataProduct) -> str:
    return f"urn:citybase:offer:{product.number}"


def end_of_term(ends_on: Any) -> datetime:
    """A contract runs to the end of its last day, the city's day (Asia/Shanghai)."""
    return datetime.combine(ends_on + timedelta(days=1), time(), policies.CITY).astimezone(UTC)


def contract_state(contract: ProductContract, now: datetime | None = None) -> ContractStatus:
    if contract.status == ContractStatus.revoked.value:
        return ContractStatus.revoked
    if (now or datetime.now(UTC)) >= contract.ends_at:
        return ContractStatus.expired
    return ContractStatus.in_force


# --- reading --------------------------------------------------------------------------------------


def read_negotiations(session: Session, rows: list[ProductNegotiation]) -> list[NegotiationRead]:
    found = repository.products_by_id(session, {n.product_id for n in rows})
    names = orgs.unit_names(session, {n.customer_unit_code for n in rows})
    return [
        NegotiationRead.model_validate(n).model_copy(
            update={
                "product_number": found[n.product_id].number,
                "product_name": found[n.product_id].name,
                "customer_unit_name": names.get(n.customer_unit_code, ""),
            }
        )
        for n in rows
    ]


def read_contracts(session: Session, rows: list[ProductContract]) -> list[ContractRead]:
    found = repository.products_by_id(session, {c.product_id for c in rows})
    names = orgs.unit_names(session, {c.customer_unit_code for c in rows})
    now = datetime.now(UTC)
    return [
        ContractRead.model_validate(c, from_attributes=True).model_copy(
            update={
                "product_number": found[c.product_id].number,
                "product_name": found[c.product_id].name,
                "product_kind": found[c.product_id].kind,
                "source_codes": list(found[c.product_id].source_codes),
                "customer_unit_name": names.get(c.customer_unit_code, ""),
                "status": contract_state(c, now),
                "has_key": c.api_key_id is not None,
            }
        )
        for c in rows
    ]


def _party_unit(principal: Principal, settings: ProductsSettings) -> str | None:
    """None for the bureau (sees all), else the unit whose side it takes."""
    return None if agreements.is_bureau(principal, settings) else (principal.unit_code or "-")


def get_accessible_negotiations(
    session: Session, principal: Principal, settings: ProductsSettings
) -> list[NegotiationRead]:
    """The bureau sees every negotiation; a company or unit those it is a party to."""
    unit = _party_unit(principal, settings)
    return read_negotiations(session, repository.negotiations(session, unit))


def accessible_negotiation(
    session: Session, principal: Principal, settings: ProductsSettings, negotiation_id: int
) -> ProductNegotiation:
    found = repository.negotiation(session, negotiation_id)
    unit = _party_unit(principal, settings)
    if found is None or (
        unit is not None and unit not in (found.customer_unit_code, found.provider_unit_code)
    ):
        raise NotFound(f"no negotiation {negotiation_id}", field="negotiation")
    return found


def negotiation_by_pid(
    session: Session, principal: Principal, settings: ProductsSettings, provider_pid: str
) -> ProductNegotiation:
    found = repository.negotiation_by_pid(session, provider_pid)
    if found is None:
        raise NotFound(f"no negotiation {provider_pid}", field="providerPid")
    return accessible_negotiation(session, principal, settings, found.id)


def get_accessible_negotiation(
    session: Session, principal: Principal, settings: ProductsSettings, negotiation_id: int
) -> NegotiationRead:
    found = accessible_negotiation(session, principal, settings, negotiation_id)
    return read_negotiations(session, [found])[0]


def get_accessible_contracts(
    session: Session, principal: Principal, settings: ProductsSettings
) -> list[ContractRead]:
    unit = _party_unit(principal, settings)
    return read_contracts(session, repository.contracts(session, unit))


def accessible_contract(
    session: Session, principal: Principal, settings: ProductsSettings, contract_id: int
) -> ProductContract:
    found = repository.contract(session, contract_id)
    unit = _party_unit(principal, settings)
    if found is None or (
        unit is not None and unit not in (found.customer_unit_code, found.provider_unit_code)
    ):
        raise NotFound(f"no contract {contract_id}", field="contract")
    return found


def get_accessible_contract(
    session: Session, principal: Principal, settings: ProductsSettings, contract_id: int
) -> ContractRead:
    return read_contracts(
        session, [accessible_contract(session, principal, settings, contract_id)]
    )[0]


# --- who may --------------------------------------------------------------------------------------


def require_customer(session: Session, principal: Principal, product: DataProduct) -> None:
    """A customer is a company (a unit of kind enterprise), not the product's own unit."""
    unit = None
    if principal.unit_code:
        try:
            unit = orgs.get_unit(session, principal.unit_code)
        except NotFound:
            unit = None
    if unit is None or not unit.active or unit.kind is not UnitKind.enterprise:
        raise Forbidden(
            "a data product is contracted by a company (an organisation of kind enterprise) "
            f"through its users (rule {RULE_CUSTOMER})", field="unit", rule=RULE_CUSTOMER,
        )  # fmt: skip
    if principal.unit_code == product.owner_unit_code:
        raise Forbidden(
            f"{product.number} is your company's own product (rule {RULE_CUSTOMER})",
            field="unit", rule=RULE_CUSTOMER,
        )  # fmt: skip


def require_side(
    principal: Principal, settings: ProductsSettings, negotiation: ProductNegotiation, side: Side
) -> None:
    if side is Side.consumer:
        allowed = principal.unit_code == negotiation.customer_unit_code
    else:
        allowed = (
            principal.unit_code == negotiation.provider_unit_code
            and principal.can(PRODUCTS_REGISTER)
        ) or agreements.is_bureau(principal, settings)
    if not allowed:
        who = "the customer" if side is Side.consumer else "the provider"
        raise Forbidden(
            f"only {who} sends this message in negotiation {negotiation.provider_pid} "
            f"(rule {RULE_PARTY})", field="unit", rule=RULE_PARTY,
        )  # fmt: skip


def require_on_offer(session: Session, product: DataProduct) -> None:
    if product.status != ProductStatus.listed.value or not product.offer_policy:
        raise Conflict(f"product {product.number} is not listed (rule {RULE_ON_OFFER})",
                       field="product", rule=RULE_ON_OFFER)  # fmt: skip
    if product.agreement_id is not None:
        deal = repository.agreement(session, product.agreement_id)
        reason = agreements.why_not_live(deal) if deal else "its agreement is gone"
        if reason:
            raise Conflict(f"{reason}: product {product.number} is not on offer (rule "
                           f"{RULE_ON_OFFER})", field="product", rule=RULE_ON_OFFER)  # fmt: skip


# --- contracts ------------------------------------------------------------------------------------


def revoke_contract(
    session: Session, principal: Principal, settings: ProductsSettings, contract_id: int,
    data: ContractAction,
) -> ContractRead:  # fmt: skip
    """The provider or the bureau revokes a contract: deliveries stop at once."""
    contract = accessible_contract(session, principal, settings, contract_id)
    provider = contract.provider_unit_code == principal.unit_code and principal.can(
        PRODUCTS_REGISTER
    )
    if not (provider or agreements.is_bureau(principal, settings)):
        raise Forbidden(f"contract {contract.number} is revoked by its provider or the bureau "
                        f"(rule {RULE_PARTY})", field="unit", rule=RULE_PARTY)  # fmt: skip
    if contract.status == ContractStatus.revoked.value:
        raise Conflict(f"contract {contract.number} is already revoked", field="status")
    contract.status = ContractStatus.revoked.value
    contract.revoked_at = datetime.now(UTC)
    contract.revoked_by = actor_of(principal).name
    contract.revoke_reason = data.reason
    record_contract(session, actor_of(principal), contract, "revoke", data.reason)
    bus.publish(session, ContractRevoked(number=contract.number, reason=data.reason,
                                         customer_unit_code=contract.customer_unit_code))  # fmt: skip
    return read_contracts(session, [contract])[0]


def issue_contract_key(
    session: Session, principal: Principal, settings: Settings, contract_id: int
) -> ApiKeyCreated:
    """The customer's per-contract key: an API key of the asking user that may only fetch
    deliveries, valid to the end of the term; deliveries of this contract take no other key.
    A new key replaces the last one."""
    contract = accessible_contract(session, principal, settings.products, contract_id)
    if principal.unit_code != contract.customer_unit_code:
        raise Forbidden(f"the key of contract {contract.number} is issued to its customer "
                        f"(rule {RULE_PARTY})", field="unit", rule=RULE_PARTY)  # fmt: skip
    state = contract_state(contract)
    if state is not ContractStatus.in_force:
        raise Conflict(f"contract {contract.number} is {state.value}: no key is issued",
                       field="status")  # fmt: skip
    days = max(1, min(3650, (contract.ends_at - datetime.now(UTC)).days + 1))
    key = identity.create_api_key(session, settings, principal, ApiKeyCreate(
        name=f"合同 {contract.number}", scopes=[PRODUCTS_DELIVER], expires_in_days=days))  # fmt: skip
    contract.api_key_id = key.id
    record_contract(session, actor_of(principal), contract, "key", f"key {key.prefix}")
    return key


def record_step(
    session: Session, actor: Actor, process: ProductNegotiation | ProductTransfer, kind: str,
    reason: str, details: dict[str, Any],
) -> None:  # fmt: skip
    """A Dataspace Protocol process (``kind``: negotiation, transfer) in its new state: the
    state kept in its history, and ``products.<kind>.<state>`` on the ledger."""
    now = datetime.now(UTC)
    process.history = [*process.history, {"state": process.state, "by": actor.name,
                                          "at": now.isoformat(), "reason": reason}]  # fmt: skip
    step = process.state.removeprefix("dspace:").lower()
    ledger.record(
        session, actor, f"products.{kind}.{step}", object_type=f"product_{kind}",
        object_id=process.provider_pid, reason=reason,
        details={"customer": process.customer_unit_code, "provider": process.provider_unit_code,
                 "state": process.state, "consumer_pid": process.consumer_pid, **details},
    )  # fmt: skip


def record_contract(
    session: Session, actor: Actor, contract: ProductContract, what: str, reason: str,
    details: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    ledger.record(
        session, actor, f"products.contract.{what}", object_type="product_contract",
        object_id=contract.number, reason=reason,
        details={"product": contract.product_id, "customer": contract.customer_unit_code,
                 "provider": contract.provider_unit_code, "status": contract.status,
                 "ends_at": contract.ends_at.isoformat(), **(details or {})},
    )  # fmt: skip


TERM = Actor.system("products-term")  # who records a contract's end at its term


def record_expiries(session: Session, now: datetime | None = None) -> int:
    """Contracts whose term has ended and that are still marked in force: marked expired, each
    with its ledger entry (deliveries already stop at the term; this puts the end on record).
    Returns how many."""
    moment = now or datetime.now(UTC)
    ended = repository.contracts_past_term(session, moment)
    for contract in ended:
        contract.status = ContractStatus.expired.value
        record_contract(session, TERM, contract, "expire",
                        "合同期满：停止交付，按约删除数据")  # fmt: skip
    return len(ended)
