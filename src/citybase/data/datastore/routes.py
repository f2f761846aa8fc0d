from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Header, Query, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from citybase.core.errors import InvalidInput, NotFound
from citybase.core.web.deps import AppSettings, DbSession, traced_read
from citybase.core.web.params import Offset
from citybase.data.catalog.auth import CatalogEditor, CatalogReader
from citybase.data.datastore import service
from citybase.data.datastore.schemas import Direction, LoadReport, RowQuery, TableRead
from citybase.data.masking import operators as ops
from citybase.data.sharing import access
from citybase.data.sharing.schemas import ReadContext

router = APIRouter(prefix="/api/v1/catalog/resources/{code}", tags=["data catalog"])


class Rows(BaseModel):
    rows: list[dict[str, Any]] = Field(max_length=service.MAX_ROWS)
    source: str = Field("api", max_length=200)


@router.get("/table")
def get_table(session: DbSession, principal: CatalogReader, code: str) -> TableRead:
    """The resource's table: its columns, row count and last load."""
    table = service.get_table(session, principal, code)
    if table is None:
        raise NotFound(f"{code} carries no rows", field="code")
    return table


@router.get("/rows")
@traced_read  # the provider's own read is on the ledger and the access log, as any other
def get_rows(
    session: DbSession,
    settings: AppSettings,
    principal: CatalogReader,
    code: str,
    filters: Annotated[
        str, Query(description='Column equals value, as JSON: {"区划": "鼓楼区"}')
    ] = "",
    q: str = "",
    fields: Annotated[str, Query(description="Columns to return, comma-separated")] = "",
    sort: str | None = None,
    direction: Direction = Direction.asc,
    limit: Annotated[int, Query(ge=0, le=10_000)] = 100,
    offset: Offset = 0,
    issue: Annotated[str, Header(alias="X-Citybase-Issue", max_length=80,
                                 description="The case this read serves")] = "",
    purpose: Annotated[str, Header(alias="X-Citybase-Purpose", max_length=500,
                                   description="Why, percent-encoded UTF-8")] = "",
) -> Response:  # fmt: skip
    """The provider unit's own rows (or, for the platform's admins, any unit's), filtered and
    paged. Each read is traced as a shared read is: ledger, access log, data subjects."""
    request = RowQuery(
        filters=service.parse_filters(filters), q=q, fields=[f.strip() for f in fields.split(",") if f.strip()],
        sort=sort, direction=direction, limit=limit, offset=offset,
    )  # fmt: skip
    ctx = ReadContext(case_number=unquote(issue.strip()), purpose=unquote(purpose.strip()))
    page, access_id = access.read_own_rows(
        session, principal, code, ctx, request, ops.keys_for(settings.masking_key)
    )
    return JSONResponse(page.model_dump(mode="json"),
                        headers={"X-Citybase-Access": str(access_id)})  # fmt: skip


@router.put("/rows")
def upload_rows(
    session: DbSession, principal: CatalogEditor, code: str, file: UploadFile, dry_run: bool = False
) -> LoadReport:
    """Replace the rows with a CSV or XLSX file whose header names the data items. Any bad
    cell: nothing is loaded (HTTP 422) and the error lists every row and column at fault."""
    report = service.load_file(
        session, principal, code, file.filename or "", file.file.read(), dry_run=dry_run
    )
    if report.problems:
        first = report.problems[0]
        raise InvalidInput(
            f"row {first.row}, {first.column}: {first.message} ({len(report.problems)} problem(s);"
            " nothing was loaded)",
            field="file", problems=[p.model_dump() for p in report.problems],
        )  # fmt: skip
    return report


@router.post("/rows")
def post_rows(session: DbSession, principal: CatalogEditor, code: str, data: Rows) -> LoadReport:
    """Replace the rows with JSON records (data item name → value)."""
    return service.load_rows(session, principal, code, data.rows, data.source)


@router.delete("/rows", status_code=204)
def delete_rows(session: DbSession, principal: CatalogEditor, code: str) -> Response:
    service.clear(session, principal, code)
    return Response(status_code=204)
