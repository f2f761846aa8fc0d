"""Delivery and metering under /api/v1/products: rows of a product fetched under a contract
with its key, a signed file of them and its verification, a sandboxed analysis, every
delivery's record, and the monthly statements."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from citybase.core.errors import InvalidInput
from citybase.core.web.deps import AppSettings, DbSession, reads_only, traced_read
from citybase.core.web.params import Id, Offset
from citybase.data.masking import operators as ops
from citybase.data.products import service
from citybase.data.products.auth import ContractParty, DeliveryReader, ProductsBrowser
from citybase.data.products.schemas import (
    AnalysisResult,
    DeliveryAsk,
    DeliveryPage,
    DeliveryRead,
    FileAsk,
    FileFormat,
    FileVerification,
    Statement,
    StatementSide,
)
from citybase.data.sandbox.schemas import QueryCreate
from citybase.data.sharing.auth import Context

DeliveryRefused = service.DeliveryRefused
MAX_FILE = 64 * 1024 * 1024  # a file delivered holds at most 100,000 rows

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
    return refusal_response(result)


def refusal_response(result: DeliveryRefused) -> JSONResponse:
    """A refused delivery of any mode, in the API's error format with the rule. Returned, not
    raised: the transaction commits and the refusal stays on the record."""
    return JSONResponse({"error": {
        "code": "delivery_refused", "message": f"{result.message} (rule {result.rule})",
        "field": "contract", "rule": result.rule, "access": result.access_id,
        "delivery": result.delivery_id, "details": {"rule": result.rule},
    }}, status_code=result.status)  # fmt: skip


def file_response(delivered: service.DeliveredFile, signature_url: str) -> Response:
    return Response(delivered.content, media_type=delivered.media_type, headers={
        "Content-Disposition": f'attachment; filename="{delivered.filename}"',
        "X-Citybase-Delivery": str(delivered.delivery_id),
        "X-Citybase-Signature": signature_url,
    })  # fmt: skip


@router.get("/contracts/{contract_id}/file", response_class=Response)
@traced_read
def deliver_file(
    session: DbSession, settings: AppSettings, principal: DeliveryReader, ctx: Context,
    contract_id: Id,
    resource: Annotated[str, Query(max_length=40, description="A source resource of the product")] = "",
    format: Annotated[FileFormat, Query(description="csv (UTF-8 with BOM) or jsonl")] = FileFormat.csv,
    limit: Annotated[int, Query(ge=1, le=100_000, description="Rows at most")] = 1000,
    region: Annotated[str, Query(max_length=40, description="Where the rows are used")] = "",
) -> Response:  # fmt: skip
    """A file of the contract's product (a dataset or a report), fetched with the contract's
    key: decided, traced, metered and priced as the API's delivery, its first line naming the
    contract, signed by the providing unit (SM2 with SM3); the detached signature is at the URL
    in ``X-Citybase-Signature``. A refusal names the rule and reads nothing."""
    try:
        ask = FileAsk(resource=resource, format=format, limit=limit, region=region)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "query"
        raise InvalidInput(f"{where}: {first['msg']}", field=where) from None
    result = service.deliver_file(session, principal, ops.keys_for(settings.masking_key),
                                  settings.masking_key, contract_id, ctx, ask)  # fmt: skip
    if isinstance(result, DeliveryRefused):
        return refusal_response(result)
    return file_response(result, f"/api/v1/products/deliveries/{result.delivery_id}/signature")


@router.get("/deliveries/{delivery_id}/signature")
def file_signature(
    session: DbSession, settings: AppSettings, principal: ContractParty, delivery_id: Id
) -> Response:  # fmt: skip
    """The detached signature of a delivered file (JSON, saved as its ``.sig``), for the
    contract's parties and the bureau."""
    found = service.get_file_signature(session, principal, settings.products, delivery_id)
    return Response(found.model_dump_json(indent=1), media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{found.file}.sig"'})  # fmt: skip


@router.post("/files/verify")
@reads_only
def verify_file(
    session: DbSession, principal: ProductsBrowser,
    file: Annotated[UploadFile, File(description="The delivered file")],
    signature: Annotated[UploadFile, File(description="Its detached signature (.sig)")],
) -> FileVerification:  # fmt: skip
    """Check a delivered file against its detached signature and this platform's published
    keys: valid only for the very bytes the providing unit signed."""
    content = file.file.read(MAX_FILE + 1)
    if len(content) > MAX_FILE:
        raise InvalidInput(f"a file to verify has at most {MAX_FILE} bytes", field="file")
    signed = signature.file.read(64_000)
    return service.verify_file_online(session, content, signed)


@router.post("/contracts/{contract_id}/analyses", response_model=AnalysisResult)
def deliver_analysis(
    session: DbSession, settings: AppSettings, principal: DeliveryReader, ctx: Context,
    contract_id: Id, body: QueryCreate,
    region: Annotated[str, Query(max_length=40, pattern=r"^[a-z0-9._/-]*$",
                                 description="Where the rows are used")] = "",
) -> Response:  # fmt: skip
    """An analysis of the contract's sandbox product, with the contract's key: the contract
    decides first, then the privacy sandbox answers the query (its dialect, ε from the
    customer's grant) over the product's source, and only its released aggregates leave;
    metered as one call whose rows are the result's. A refusal names the rule."""
    result = service.deliver_analysis(session, principal, ops.keys_for(settings.masking_key),
                                      contract_id, ctx, body, region)  # fmt: skip
    if isinstance(result, DeliveryRefused):
        return refusal_response(result)
    return JSONResponse(result.model_dump(mode="json"))


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
