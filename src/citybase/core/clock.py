"""The city's calendar: what day it is where the city is (Asia/Shanghai), whatever the server's
clock zone. Deadlines, monthly reports and the like count in the city's days."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

CITY_TZ = ZoneInfo("Asia/Shanghai")


def today() -> date:
    return datetime.now(CITY_TZ).date()


def city_date(moment: datetime) -> date:
    """The city's day a moment falls on (a naive moment is taken as UTC, as the database keeps
    it)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CITY_TZ).date()
