"""Supervision: the working-clock sweep that turns stages yellow and red and escalates, and the
centre's figures by unit, district and category over a period."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Principal
from citybase.core.settings import Settings
from citybase.core.workdays import calendar_for
from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import CaseFilter, CaseRead, CaseWarning, Figures


def sweep(session: Session, settings: Settings, now: datetime | None = None) -> list[CaseWarning]:
    return cases.sweep(session, calendar_for(settings.home), settings.hub.warn_fraction, now)


def figures(
    session: Session, by: str | None, since: datetime | None, until: datetime | None
) -> list[Figures]:
    return cases.figures(session, by, since, until)


def flagged(session: Session, principal: Principal, level: str, limit: int = 200) -> list[CaseRead]:
    """Cases now yellow or red, for the supervisor's board."""
    items, _ = cases.find(session, principal, CaseFilter(warning=level, limit=limit))
    return items
