"""Deliveries of a data product as an API (数据交付), under a contract and with its key.

Every delivery is decided before anything is read: the contract's key, its state (revoked or
past its term stops deliveries at once), the operation agreement the product is offered under,
then the contract's ODRL policy (``policies.decide`` on the contract's meters) — the rule that
allowed or refused it is kept. A refused delivery reads nothing and is traced all the same (the
traced read's refusal, ``sharing.refuse_under``) and kept with its rule; an allowed one is the
one traced read (``sharing.read_rows_under``) with the contract as its basis, then metered
(one call, its rows, its bytes) and priced by the product's price policy.

The API is one mode of three; ``open_delivery`` decides, and ``close_delivery`` meters, a
delivery of any of them: a signed file (``files.py``) and a sandboxed analysis (``analysis.py``)
go through the same steps, so the same rules allow or refuse them and the same trace is left.
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
from citybase.data.products.auth import PRODUCTS_DELIVER
from citybase.data.products.contracts import accessible_contract, contract_state, unit_urn
from citybase.data.products.models import DataProduct, ProductContract, ProductDelivery
from citybase.data.products.schemas import (
    MODES_BY_KIND,
    ContractStatus,
    DeliveryAsk,
    DeliveryMode,
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
RULE_MODE = "delivery.mode"
RULE_TRANSFER = "transfer.started"
STARTED = "dspace:STARTED"
ACTION = "products.delivery"


@dataclass(frozen=True)
class DeliveryRefused:
    """A delivery refused, nothing read: the rule, why, and the trace it left."""

    rule: str
    message: str
    access_id: int | None
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
    now: datetime, mode: DeliveryMode, signed_in: bool,
) -> tuple[str, str] | None:  # fmt: skip
    by_key = contract.api_key_id is not None and principal.api_key_id == contract.api_key_id
    # the console's file download: a signed-in customer user (no key at all) who may fetch
    by_user = signed_in and principal.api_key_id is None and principal.can(PRODUCTS_DELIVER)
    # a data-space transfer's token: served while that transfer of this contract is started
    transfer = (
        repository.transfer_by_key(session, principal.api_key_id)
        if principal.api_key_id is not None and not by_key
        else None
    )
    if transfer is not None and transfer.contract_id == contract.id:
        if transfer.state != STARTED:
            return RULE_TRANSFER, (
                f"transfer {transfer.provider_pid} is {transfer.state}: its data address serves "
                "only while it is dspace:STARTED"
            )  # fmt: skip
        by_key = True
    if not (by_key or by_user):
        return RULE_KEY, (
            f"deliveries of contract {contract.number} are fetched with its own key (issue it "
            "on the contract), not with another credential"
        )  # fmt: skip
    if mode not in MODES_BY_KIND.get(product.kind, frozenset()):
        allowed = "、".join(sorted(m.value for m in MODES_BY_KIND.get(product.kind, ())))
        return RULE_MODE, (
            f"product {product.number} ({product.kind}) is not delivered as {mode.value}: "
            f"only as {allowed or 'nothing'}"
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


@dataclass
class Opened:
    """A delivery decided and allowed, nothing read yet: what the mode's reading needs."""

    contract: ProductContract
    product: DataProduct
    code: str
    basis: Basis
    ctx: ReadContext
    record: ProductDelivery
    decision: policies.Decision

    @property
    def duties(self) -> list[str]:
        return [f"{d.action}" + (f" ({'; '.join(d.constraints)})" if d.constraints else "")
                for d in self.decision.duties]  # fmt: skip


def open_delivery(
    session: Session, principal: Principal, contract_id: int, ctx: ReadContext, *,
    mode: DeliveryMode, resource: str, rows_asked: int, region: str, signed_in: bool = False,
) -> Opened | DeliveryRefused:  # fmt: skip
    """Decide a delivery of any mode before anything is read: the credential, the mode the
    product's kind allows, the contract's state, the operation agreement, then the contract's
    ODRL policy on its meters. A refusal is traced (``sharing.refuse_under``) and kept with its
    rule; it reads nothing. ``signed_in``: a customer's user signed in to the console may fetch
    (a file) without the contract's key."""
    contract = repository.contract_for_update(session, contract_id)
    if contract is None or contract.customer_unit_code != principal.unit_code:
        raise NotFound(f"no contract {contract_id}", field="contract")
    product = repository.product(session, contract.product_id)
    assert product is not None
    code = resource or product.source_codes[0]
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
    refused = _precheck(session, principal, contract, product, now, mode, signed_in)
    decision = None
    if refused is None:
        decision = policies.decide(policy_of(contract), policies.UsageRequest(
            action="use", at=now, purpose=purpose, region=region, calls=contract.calls,
            rows=contract.rows, bytes=contract.bytes, rows_asked=rows_asked,
            assignee=unit_urn(contract.customer_unit_code), scenario=contract.scenario,
        ))  # fmt: skip
        if not decision.allowed:
            refused = (decision.rule, decision.reason)
    record = ProductDelivery(
        at=now, contract_id=contract.id, product_id=product.id,
        customer_unit_code=contract.customer_unit_code,
        provider_unit_code=contract.provider_unit_code, resource_code=code, purpose=purpose,
        scenario=contract.scenario, username=principal.username, api_key_id=principal.api_key_id,
        rows=0, bytes=0, price_fen=0, mode=mode.value,
    )  # fmt: skip
    if refused is not None:
        rule, message = refused
        trace = sharing.refuse_under(session, principal, code, ctx, basis,
                                     f"{message} (rule {rule})")  # fmt: skip
        return _refused(session, record, rule, message, trace.access_id, 403)
    assert decision is not None
    return Opened(contract, product, code, basis, ctx, record, decision)


def refuse_opened(
    session: Session, opened: Opened, rule: str, message: str, access_id: int | None,
    status: int,
) -> DeliveryRefused:  # fmt: skip
    """A delivery the contract allowed but its reading refused (the traced read, the sandbox):
    kept with that rule, nothing metered."""
    return _refused(session, opened.record, rule, message, access_id, status)


def close_delivery(
    session: Session, opened: Opened, rows: int, size: int, access_id: int | None
) -> ProductDelivery:
    """An allowed delivery served: kept with its rule, metered (one call, its rows, its bytes)
    on the contract and priced."""
    record, contract = opened.record, opened.contract
    record.outcome, record.rule, record.reason = (
        "allowed",
        opened.decision.rule,
        opened.decision.reason,
    )
    record.rows, record.bytes = rows, size
    record.price_fen = price_of(opened.product, rows)
    record.access_id = access_id
    repository.add(session, record)
    contract.calls += 1
    contract.rows += rows
    contract.bytes += size
    return record


def deliver(
    session: Session, principal: Principal, keys: Keys, contract_id: int, ctx: ReadContext,
    ask: DeliveryAsk,
) -> DeliveryPage | DeliveryRefused:  # fmt: skip
    """Rows of the product under the contract, or a refusal naming the rule; either way on the
    ledger, in the access log and among the contract's deliveries (the caller commits)."""
    opened = open_delivery(session, principal, contract_id, ctx, mode=DeliveryMode.api,
                           resource=ask.resource, rows_asked=ask.limit, region=ask.region)  # fmt: skip
    if isinstance(opened, DeliveryRefused):
        return opened
    query = RowQuery(fields=ask.fields, limit=ask.limit, offset=ask.offset)
    served = sharing.read_rows_under(session, principal, opened.code, opened.ctx, query, keys,
                                     opened.basis)  # fmt: skip
    if isinstance(served, sharing.Refused):
        return refuse_opened(session, opened, f"read.{served.refusal.value}", served.message,
                             served.access_id, served.refusal.status)  # fmt: skip
    page = served.page
    size = len(
        json.dumps(page.rows, ensure_ascii=False, default=str, separators=(",", ":")).encode()
    )
    record = close_delivery(session, opened, len(page.rows), size, page.access_id)
    return DeliveryPage(
        delivery_id=record.id, contract_number=opened.contract.number,
        product_number=opened.product.number, resource_code=opened.code,
        rule=opened.decision.rule, duties=opened.duties, purpose=opened.ctx.purpose,
        level=page.level, masked=page.masked, total=page.total, rows=page.rows, bytes=size,
        price_yuan=to_yuan(record.price_fen), access_id=page.access_id,
    )  # fmt: skip


def _refused(
    session: Session, record: ProductDelivery, rule: str, message: str, access_id: int | None,
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
