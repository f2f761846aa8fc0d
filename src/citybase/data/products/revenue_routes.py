"""The revenue reports of the paid use of public data (有偿使用收入报表) under
/api/v1/products/revenue: as JSON, and as a CSV or Excel file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from citybase.core.errors import InvalidInput
from citybase.core.tables import XLSX
from citybase.core.web.deps import AppSettings, DbSession
from citybase.data.products import service
from citybase.data.products.auth import ProductsRegistrar

router = APIRouter(prefix="/api/v1/products", tags=["data products"])

PeriodParam = Annotated[str, Query(
    max_length=10, description="A year (2026), a quarter (2026-Q4) or a month (2026-12); "
    "default: this month")]  # fmt: skip
FromParam = Annotated[str, Query(alias="from", max_length=10,
                                 description="The first day (YYYY-MM-DD), with to")]  # fmt: skip
ToParam = Annotated[str, Query(max_length=10, description="The last day (YYYY-MM-DD), included")]


@router.get("/revenue")
def revenue_report(
    session: DbSession, settings: AppSettings, principal: ProductsRegistrar,
    period: PeriodParam = "", first: FromParam = "", to: ToParam = "",
) -> service.RevenueReport:  # fmt: skip
    """What the paid use of public data earned over the period — calls, rows, bytes and the
    amount in yuan, use free of charge apart — by product, providing unit, scenario and
    customer: the whole city for the bureau, its own products for a provider."""
    found = service.parse_period(period, first, to)
    return service.revenue_report(session, principal, settings.products, found)


@router.get("/revenue.{fmt}", response_class=Response,
            responses={200: {"content": {XLSX: {}, "text/csv": {}}, "description": "A file"}})  # fmt: skip
def export_revenue(
    session: DbSession, settings: AppSettings, principal: ProductsRegistrar, fmt: str,
    period: PeriodParam = "", first: FromParam = "", to: ToParam = "",
) -> Response:  # fmt: skip
    """The same report as a CSV (UTF-8 with BOM) or Excel file."""
    if fmt not in ("csv", "xlsx"):
        raise InvalidInput("the format is csv or xlsx", field="fmt")
    found = service.parse_period(period, first, to)
    report = service.revenue_report(session, principal, settings.products, found)
    body = service.revenue_csv(report) if fmt == "csv" else service.revenue_xlsx(report)
    name = f"revenue-{report.scope}-{report.starts_on:%Y%m%d}-{report.ends_on:%Y%m%d}.{fmt}"
    return Response(body, media_type=XLSX if fmt == "xlsx" else "text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
