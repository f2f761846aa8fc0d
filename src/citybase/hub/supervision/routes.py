from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from citybase.core.clock import CITY_TZ, today
from citybase.core.errors import InvalidInput
from citybase.core.tables import XLSX
from citybase.core.values import MONTH
from citybase.core.web.deps import DbSession, traced_read
from citybase.core.web.params import QueryTime
from citybase.hub.cases.auth import CentreReader
from citybase.hub.cases.schemas import CaseRead, Figures
from citybase.hub.supervision import service

router = APIRouter(prefix="/api/v1/hub/supervision", tags=["city brain"])


@router.get("/figures")
def figures(
    session: DbSession,
    principal: CentreReader,
    by: Literal["unit", "district", "category"] | None = None,
    since: QueryTime = None,
    until: QueryTime = None,
) -> list[Figures]:
    """按时签收率, 按时办结率, 退单率, 重办率, 满意率, 一次办结率 and dispatch accuracy over the cases
    taken in in [since, until): for all, or per lead unit, district or 大类."""
    return service.figures(session, by, since, until)


@router.get("/warnings")
def warnings(
    session: DbSession, principal: CentreReader, level: Literal["yellow", "red"] = "red"
) -> list[CaseRead]:
    """Cases whose stage deadline is near (yellow) or past (red)."""
    return service.flagged(session, principal, level)


@router.get("/report.xlsx", response_class=Response,
            responses={200: {"content": {XLSX: {}}, "description": "A workbook"}})  # fmt: skip
@traced_read  # the report puts itself on the ledger
def report(
    session: DbSession,
    principal: CentreReader,
    month: str = Query("", pattern=rf"^({MONTH})?$", description="YYYY-MM; empty: last month"),
) -> Response:
    """The centre's monthly report (月度通报) as an Excel workbook: the figures for all, units
    ranked, districts, 大类, and the cases now overdue."""
    if month:
        year, number = int(month[:4]), int(month[5:])
        if year == 9999 and number == 12:  # its end is in the year 10000
            raise InvalidInput("month is YYYY-MM, before 9999-12", field="month")
    else:
        last = today().replace(day=1) - timedelta(days=1)
        year, number = last.year, last.month
    since = datetime(year, number, 1, tzinfo=CITY_TZ)
    until = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=CITY_TZ)
    book = service.report(session, principal, since, until)
    return Response(book, media_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="12345-{year}-{number:02d}.xlsx"'})  # fmt: skip
