"""Working days on the Chinese calendar: weekends, the State Council's public holidays and the
weekend days it makes working days (调休). Deadlines of the city's work count on a working clock
that stands still outside working days.

The years' schedules come from the ``chinesecalendar`` package (2004 to the latest year it has
been told of). A year it does not know yet — the State Council publishes the next year's in
November — can be given in a YAML file (``holidays:`` and ``workdays:`` lists of dates); until
then such a year counts Monday to Friday, and ``known(year)`` says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import chinese_calendar
import yaml

from citybase.core.clock import CITY_TZ
from citybase.core.errors import InvalidInput

DAY_HOURS = 24.0


class WorkCalendar:
    """Which days are working days, and a clock that runs on them only."""

    def __init__(self, holidays: Iterable[date] = (), workdays: Iterable[date] = ()) -> None:
        self.holidays = frozenset(holidays)
        self.workdays = frozenset(workdays)
        self._told = {d.year for d in self.holidays | self.workdays}

    @classmethod
    def from_file(cls, path: Path) -> WorkCalendar:
        """Extra holidays and working days from a YAML file (for years the package lacks)."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{path.name} is not YAML: {exc}", field="calendar") from exc
        if not isinstance(data, dict):
            raise InvalidInput(f"{path.name} holds 'holidays' and 'workdays' lists",
                               field="calendar")  # fmt: skip
        lists: dict[str, list[date]] = {}
        for key in ("holidays", "workdays"):
            items = data.get(key) or []
            bad = [i for i in items if not isinstance(i, date)]
            if not isinstance(items, list) or bad:
                raise InvalidInput(f"{path.name}: '{key}' must be a list of dates (YYYY-MM-DD)",
                                   field=key)  # fmt: skip
            lists[key] = items
        return cls(lists["holidays"], lists["workdays"])

    def known(self, year: int) -> bool:
        """Whether this year's holidays are known (else weekends alone are counted)."""
        if year in self._told:
            return True
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        if day.year not in self._told:
            try:
                return bool(chinese_calendar.is_workday(day))
            except NotImplementedError:
                pass
        return day.weekday() < 5

    def next_workday(self, day: date) -> date:
        """This day if it is a working day, else the first working day after it."""
        while not self.is_workday(day):
            day += timedelta(days=1)
        return day

    def add(self, start: datetime, hours: float) -> datetime:
        """The moment ``hours`` of working time after ``start``: the clock runs only on working
        days (all 24 hours of them, city time), so 3 working days from a Friday afternoon before
        a holiday end on the same afternoon of the third working day after it."""
        local = start.astimezone(CITY_TZ)
        left = timedelta(hours=hours)
        day = local.date()
        if not self.is_workday(day):
            day = self.next_workday(day)
            local = datetime.combine(day, datetime.min.time(), CITY_TZ)
        while True:
            end_of_day = datetime.combine(day + timedelta(days=1), datetime.min.time(), CITY_TZ)
            if local + left <= end_of_day:
                return (local + left).astimezone(start.tzinfo)
            left -= end_of_day - local
            day = self.next_workday(day + timedelta(days=1))
            local = datetime.combine(day, datetime.min.time(), CITY_TZ)

    def hours_between(self, start: datetime, end: datetime) -> float:
        """Working time from ``start`` to ``end`` in hours (negative when ``end`` is earlier)."""
        if end < start:
            return -self.hours_between(end, start)
        a, b = start.astimezone(CITY_TZ), end.astimezone(CITY_TZ)
        total = timedelta()
        day = a.date()
        while day <= b.date():
            if self.is_workday(day):
                lo = datetime.combine(day, datetime.min.time(), CITY_TZ)
                hi = lo + timedelta(days=1)
                total += max(timedelta(), min(hi, b) - max(lo, a))
            day += timedelta(days=1)
        return total.total_seconds() / 3600

    def workdays_in(self, first: date, last: date) -> int:
        return sum(
            1 for n in range((last - first).days + 1) if self.is_workday(first + timedelta(days=n))
        )


@lru_cache(maxsize=8)
def _cached(path: str, mtime: float) -> WorkCalendar:
    return WorkCalendar.from_file(Path(path))


def calendar_for(home: Path) -> WorkCalendar:
    """The city's calendar: the package's years, with ``<home>/calendar.yaml`` when present."""
    path = home / "calendar.yaml"
    if path.is_file():
        return _cached(str(path), path.stat().st_mtime)
    return DEFAULT


DEFAULT = WorkCalendar()
