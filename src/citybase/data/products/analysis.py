"""Deliveries of a ``sandbox`` product as sandboxed analysis (沙箱交付).

Under a contract, the customer asks a question in the privacy sandbox's own dialect (its SQL or
structured form) of one of the product's sources. The contract decides first, by the same rules
as any delivery (``delivery.open_delivery``: the key, the mode the product's kind allows, the
contract's state, the operation agreement, the ODRL policy); a refusal reads nothing and is
traced. An allowed one is the sandbox's own query (``sandbox.ask_query``) with the contract as
the read's basis: the rows are read and computed on inside the platform, and only the released
result (differentially private aggregates) leaves. It is metered as one call whose rows are the
rows of the result, and priced. The privacy budget (ε) spent is the customer's grant on the
source, as for any sandbox query: a contract does not widen it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Principal
from citybase.data.products.delivery import (
    DeliveryRefused,
    close_delivery,
    open_delivery,
    refuse_opened,
)
from citybase.data.products.schemas import AnalysisResult, DeliveryMode, to_yuan
from citybase.data.sandbox import service as sandbox
from citybase.data.sandbox.schemas import QueryCreate
from citybase.data.sharing.schemas import ReadContext

if TYPE_CHECKING:
    from citybase.data.masking.operators import Keys


def deliver_analysis(
    session: Session, principal: Principal, keys: Keys, contract_id: int, ctx: ReadContext,
    data: QueryCreate, region: str = "",
) -> AnalysisResult | DeliveryRefused:  # fmt: skip
    """The sandbox's released answer to ``data`` under the contract, or a refusal naming the
    rule (the contract's, or the sandbox's: budget, declaration, dialect). The caller commits
    either way."""
    resource = sandbox.query_resource(data) or ""
    opened = open_delivery(session, principal, contract_id, ctx, mode=DeliveryMode.sandbox,
                           resource=resource, rows_asked=0, region=region)  # fmt: skip
    if isinstance(opened, DeliveryRefused):
        return opened
    contract = opened.contract
    basis = sandbox.ContractBasis(
        ref=contract.number, legal_basis=opened.basis.legal_basis, purpose=opened.ctx.purpose,
        consumer=contract.customer_unit_code,
    )  # fmt: skip
    asked, refused = sandbox.ask_query(session, principal, data, keys, basis)
    if refused is not None:
        return refuse_opened(session, opened, refused.rule, refused.message, asked.access_id,
                             refused.status_code)  # fmt: skip
    answer = asked.answer
    assert answer is not None
    size = len(answer.model_dump_json().encode())
    record = close_delivery(session, opened, len(answer.rows), size, asked.access_id)
    return AnalysisResult(
        delivery_id=record.id, contract_number=contract.number,
        product_number=opened.product.number, resource_code=opened.code,
        rule=opened.decision.rule, duties=opened.duties, purpose=opened.ctx.purpose,
        query_id=asked.id, columns=answer.columns, rows=answer.rows,
        accuracy=[a.model_dump(mode="json") for a in answer.accuracy],
        epsilon_spent=answer.epsilon_spent, remaining=asked.remaining,
        price_yuan=to_yuan(record.price_fen), access_id=asked.access_id,
    )  # fmt: skip
