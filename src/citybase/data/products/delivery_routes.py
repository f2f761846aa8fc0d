"""Delivery and metering under /api/v1/products: rows of a product fetched under a contract
with its key, every delivery's record, and the monthly statements."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from citybase.core.errors import InvalidInput
from citybase.core.web.deps import AppSettings, DbSession, traced_read
from citybase.core.web.params import Id, Offset
from citybase.data.masking import operators as ops
from citybase.data.products import service
from citybase.data.products.auth import ContractParty, DeliveryReader
from citybase.data.products.schemas import (
    DeliveryAsk,
    DeliveryPage,
    DeliveryRead,
    Statement,
    StatementSide,
)
from citybase.data.sharing.auth import Context

router = APIRouter(prefix="/api/v1/products", tags=["data product deliveries"])


@router.get("/contracts/{contract_id}/rows", response_model=DeliveryPage)
@traced_read
def deliver(
    session: DbSession, settings: AppSettings, principal: DeliveryReader, ctx: Context,
    contract_id: Id,
    resource: Annotated[str, Query(max_length=40, description="A source resource of the product")] = "",
    fields: Annotated[str, Query(max_length=4000, description="Columns, comma-separated")] = "",
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Offset = 0,
    region: Annotated[str, Query(max_length=40, description="Where the rows are used")] = "",
) -> Response:  # fmt: skip
    """Rows of the contract's product, fetched with the contract's key (``Authorization:
    Bearer``), the purpose in ``X-Citybase-Purpose``: decided by the contract's ODRL policy,
    masked by grade, metered and priced. A refusal names the rule and delivers nothing; it is
    kept and traced too (this request commits either way)."""
    try:
        ask = DeliveryAsk(resource=resource, region=region, limit=limit, offset=min(offset, 10**9),
                          fields=[f.strip() for f in fields.split(",") if f.strip()])  # fmt: skip
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "query"
        raise InvalidInput(f"{where}: {first['msg']}", field=where) from None
    result = service.deliver(
        session, principal, ops.keys_for(settings.masking_key), contract_id, ctx, ask
    )
    if isinstance(result, DeliveryPage):
        return JSONResponse(result.model_dump(mode="json"))
    # returned, not raised: the transaction commits and the refusal stays on the record
    return JSONResponse({"error": {
        "code": "delivery_refused", "message": f"{result.message} (rule {result.rule})",
        "field": "contract", "rule": result.rule, "access": result.access_id,
        "delivery": result.delivery_id, "details": {"rule": result.rule},
    }}, status_code=result.status)  # fmt: skip


@router.get("/contracts/{contract_id}/deliveries")
def list_deliveries(
    session: DbSession, settings: AppSettings, principal: ContractParty, contract_id: Id,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryRead]:  # fmt: skip
    """A contract's deliveries, allowed and refused, newest first (its parties and the bureau)."""
    return service.get_deliveries(session, principal, settings.products, contract_id, limit)


@router.get("/statements")
def monthly_statement(
    session: DbSession, settings: AppSettings, principal: ContractParty,
    month: Annotated[str, Query(max_length=7, description="YYYY-MM, the city's month")] = "",
    side: StatementSide = StatementSide.customer,
    unit: Annotated[str, Query(max_length=40, description="The bureau: any unit")] = "",
) -> Statement:  # fmt: skip
    """A monthly statement: per contract, calls (allowed and refused), rows, bytes and the
    amount by each product's price policy — one's company as customer or as provider."""
    return service.monthly_statement(
        session, principal, settings.products, month or service.this_month(), side, unit
    )
