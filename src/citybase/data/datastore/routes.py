from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, UploadFile
from pydantic import BaseModel, Field

from citybase.core.errors import InvalidInput, NotFound
from citybase.core.web.deps import DbSession
from citybase.core.web.params import Offset
from citybase.data.catalog.auth import CatalogEditor, CatalogReader
from citybase.data.datastore import service
from citybase.data.datastore.schemas import Direction, LoadReport, RowPage, RowQuery, TableRead

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
def get_rows(
    session: DbSession,
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
) -> RowPage:
    """The provider unit's own rows, filtered and paged."""
    request = RowQuery(
        filters=service.parse_filters(filters), q=q, fields=[f.strip() for f in fields.split(",") if f.strip()],
        sort=sort, direction=direction, limit=limit, offset=offset,
    )  # fmt: skip
    return service.query_own(session, principal, code, request)


@router.put("/rows")
async def upload_rows(
    session: DbSession, principal: CatalogEditor, code: str, file: UploadFile, dry_run: bool = False
) -> LoadReport:
    """Replace the rows with a CSV or XLSX file whose header names the data items. Any bad
    cell: nothing is loaded (HTTP 422) and the error lists every row and column at fault."""
    report = service.load_file(
        session, principal, code, file.filename or "", await file.read(), dry_run=dry_run
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
