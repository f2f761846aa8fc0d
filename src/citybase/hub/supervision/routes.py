from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter

from citybase.core.web.deps import DbSession
from citybase.hub.cases.auth import CentreReader
from citybase.hub.cases.schemas import CaseRead, Figures
from citybase.hub.supervision import service

router = APIRouter(prefix="/api/v1/hub/supervision", tags=["city brain"])


@router.get("/figures")
def figures(
    session: DbSession,
    principal: CentreReader,
    by: Literal["unit", "district", "category"] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
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
