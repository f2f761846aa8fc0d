"""Deliveries of a data product as an API (数据交付), under a contract and with its key.

Every delivery is decided before anything is read: the contract's key, its state (revoked or
past its term stops deliveries at once), the operation agreement the product is offered under,
then the contract's ODRL policy (``policies.decide`` on the contract's meters) — the rule that
allowed or refused it is kept. A refused delivery reads nothing and is traced all the same (the
traced read's refusal, ``sharing.refuse_under``) and kept with its rule; an allowed one is the
one traced read (``sharing.read_rows_under``) with the contract as its basis, then metered
(one call, its rows, its bytes) and priced by the product's price policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from citybase.core.errors import InvalidInput, NotFound
from citybase.core.identity.schemas import Principal
from citybase.core.settings import ProductsSettings
from citybase.data.datastore.schemas import RowQuery
from citybase.data.grading.schemas import Level
from citybase.data.products import agreements, policies, repository
from citybase.data.products.contracts import accessible_contract, contract_state, unit_urn
from citybase.data.products.models import DataProduct, ProductContract, ProductDelivery
from citybase.data.products.schemas import (
    ContractStatus,
    DeliveryAsk,
    DeliveryPage,
    DeliveryRead,
    PriceModel,
    to_yuan,
)
from citybase.data.sharing import service as sharing
from citybase.data.sharing.schemas import Basis, ReadContext

if TYPE_CHECKING:
    from citybase.data.masking.operators import Keys

RULE_KEY = "contract.key"
RULE_REVOKED = "contract.revoked"
RULE_EXPIRED = "contract.expired"
ACTION = "products.delivery"


@dataclass(frozen=True)
class DeliveryRefused:
    """A delivery refused, nothing read: the rule, why, and the trace it left."""

    rule: str
    message: str
    access_id: int
    delivery_id: int
    status: int = 403


def policy_of(contract: ProductContract) -> policies.CompiledPolicy:
    """The contract's policy, compiled once per process (its number and the moment it was
    made change with it; a contract's policy is never edited)."""
    return policies.compiled(
        f"{contract.number}@{contract.created_at.isoformat()}", contract.policy
    )


def _precheck(
    session: Session, principal: Principal, contract: ProductContract, product: DataProduct,
    now: datetime,
) -> tuple[str, str] | None:  # fmt: skip
    if contract.api_key_id is None or principal.api_key_id != contract.api_key_id:
        return RULE_KEY, (
            f"deliveries of contract {contract.number} are fetched with its own key (issue it "
            "on the contract), not with another credential"
        )  # fmt: skip
    state = contract_state(contract, now)
    if state is ContractStatus.revoked:
        return RULE_REVOKED, (
            f"contract {contract.number} was revoked on {contract.revoked_at:%Y-%m-%d}: "
            f"{contract.revoke_reason}"
        )  # fmt: skip
    if state is ContractStatus.expired:
        return RULE_EXPIRED, f"contract {contract.number} ended at {contract.ends_at.isoformat()}"
    if product.agreement_id is not None:
        deal = repository.agreement(session, product.agreement_id)
        reason = agreements.why_not_live(deal) if deal else "its operation agreement is gone"
        if reason:
            return agreements.RULE_LIVE, f"{reason}: its products are not delivered"
    return None


def price_of(product: DataProduct, rows: int) -> int:
    """What one allowed delivery costs, in fen: per call, per row, or nothing here (free, or a
    monthly subscription, which the statement charges once a month)."""
    if product.price_model == PriceModel.per_call.value:
        return product.price_fen
    if product.price_model == PriceModel.per_row.value:
        return product.price_fen * rows
    return 0


def deliver(
    session: Session, principal: Principal, keys: Keys, contract_id: int, ctx: ReadContext,
    ask: DeliveryAsk,
) -> DeliveryPage | DeliveryRefused:  # fmt: skip
    """Rows of the product under the contract, or a refusal naming the rule; either way on the
    ledger, in the access log and among the contract's deliveries (the caller commits)."""
    contract = repository.contract_for_update(session, contract_id)
    if contract is None or contract.customer_unit_code != principal.unit_code:
        raise NotFound(f"no contract {contract_id}", field="contract")
    product = repository.product(session, contract.product_id)
    assert product is not None
    code = ask.resource or product.source_codes[0]
    if code not in product.source_codes:
        raise InvalidInput(f"{code} is not a source of product {product.number}: "
                           f"{', '.join(product.source_codes)}", field="resource")  # fmt: skip
    purpose = ctx.purpose or (contract.purposes[0] if len(contract.purposes) == 1 else "")
    basis = Basis(
        kind="contract", ref=contract.number, legal_basis=f"数据产品合同 {contract.number}",
        fields=(), purpose=purpose,  # every data item of the source: a product sells them all
        consumer=contract.customer_unit_code, action=ACTION,
        mask_level=Level.general_3 if product.masked else None,
    )  # fmt: skip
    ctx = ctx.model_copy(update={"purpose": purpose})
    now = datetime.now(UTC)
    refused = _precheck(session, principal, contract, product, now)
    decision = None
    if refused is None:
        decision = policies.decide(policy_of(contract), policies.UsageRequest(
            action="use", at=now, purpose=purpose, region=ask.region, calls=contract.calls,
            rows=contract.rows, bytes=contract.bytes, rows_asked=ask.limit,
            assignee=unit_urn(contract.customer_unit_code), scenario=contract.scenario,
        ))  # fmt: skip
        if not decision.allowed:
            refused = (decision.rule, decision.reason)
    record = ProductDelivery(
        at=now, contract_id=contract.id, product_id=product.id,
        customer_unit_code=contract.customer_unit_code,
        provider_unit_code=contract.provider_unit_code, resource_code=code, purpose=purpose,
        scenario=contract.scenario, username=principal.username, api_key_id=principal.api_key_id,
        rows=0, bytes=0, price_fen=0,
    )  # fmt: skip
    if refused is not None:
        rule, message = refused
        trace = sharing.refuse_under(session, principal, code, ctx, basis,
                                     f"{message} (rule {rule})")  # fmt: skip
        return _refused(session, record, rule, message, trace.access_id, 403)
    assert decision is not None
    query = RowQuery(fields=ask.fields, limit=ask.limit, offset=ask.offset)
    served = sharing.read_rows_under(session, principal, code, ctx, query, keys, basis)
    if isinstance(served, sharing.Refused):
        return _refused(session, record, f"read.{served.refusal.value}", served.message,
                        served.access_id, served.refusal.status)  # fmt: skip
    page = served.page
    size = len(
        json.dumps(page.rows, ensure_ascii=False, default=str, separators=(",", ":")).encode()
    )
    record.outcome, record.rule, record.reason = "allowed", decision.rule, decision.reason
    record.rows, record.bytes = len(page.rows), size
    record.price_fen = price_of(product, len(page.rows))
    record.access_id = page.access_id
    repository.add(session, record)
    contract.calls += 1
    contract.rows += len(page.rows)
    contract.bytes += size
    return DeliveryPage(
        delivery_id=record.id, contract_number=contract.number, product_number=product.number,
        resource_code=code, rule=decision.rule,
        duties=[f"{d.action}" + (f" ({'; '.join(d.constraints)})" if d.constraints else "")
                for d in decision.duties],
        purpose=purpose, level=page.level, masked=page.masked, total=page.total, rows=page.rows,
        bytes=size, price_yuan=to_yuan(record.price_fen), access_id=page.access_id,
    )  # fmt: skip


def _refused(
    session: Session, record: ProductDelivery, rule: str, message: str, access_id: int,
    status: int,
) -> DeliveryRefused:  # fmt: skip
    record.outcome, record.rule, record.reason = "refused", rule[:200], message
    record.access_id = access_id
    repository.add(session, record)
    return DeliveryRefused(rule, message, access_id, record.id, status)


def get_deliveries(
    session: Session, principal: Principal, settings: ProductsSettings, contract_id: int,
    limit: int = 100,
) -> list[DeliveryRead]:  # fmt: skip
    contract = accessible_contract(session, principal, settings, contract_id)
    rows = repository.deliveries(session, contract.id, limit)
    return [DeliveryRead.model_validate(r) for r in rows]
