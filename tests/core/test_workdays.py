from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from citybase.core.clock import CITY_TZ
from citybase.core.errors import InvalidInput
from citybase.core.workdays import DEFAULT, WorkCalendar, calendar_for


def _at(*args: int) -> datetime:
    return datetime(*args, tzinfo=CITY_TZ)


def test_holidays_and_adjusted_working_days_of_2026() -> None:
    assert not DEFAULT.is_workday(date(2026, 2, 16))  # Spring Festival
    assert DEFAULT.is_workday(date(2026, 2, 14))  # a Saturday made a working day (调休)
    assert not DEFAULT.is_workday(date(2026, 10, 7))  # National Day week
    assert DEFAULT.is_workday(date(2026, 10, 8))
    assert DEFAULT.is_workday(date(2026, 10, 10))  # a Saturday made a working day
    # October: 31 days less the 7 of National Day and the 6 weekend days after it but the 10th
    assert DEFAULT.workdays_in(date(2026, 10, 1), date(2026, 10, 31)) == 18


def test_the_working_clock_stands_still_on_days_off() -> None:
    # Friday 13 Feb 10:00: one working day later is Saturday 14 Feb (adjusted), the next is
    # Tuesday 24 Feb, after the Spring Festival holiday
    assert DEFAULT.add(_at(2026, 2, 13, 10), 24) == _at(2026, 2, 14, 10)
    assert DEFAULT.add(_at(2026, 2, 13, 10), 48) == _at(2026, 2, 24, 10)
    # a case taken in on a holiday starts counting on the first working day
    assert DEFAULT.add(_at(2026, 10, 3, 15), 2) == _at(2026, 10, 8, 2)
    start, end = _at(2026, 9, 30, 10), _at(2026, 10, 9, 10)
    assert (
        DEFAULT.hours_between(start, end) == 14 + 24 + 10
    )  # 30 Sep from 10:00, 8 Oct, 9 Oct to 10:00
    assert DEFAULT.hours_between(end, start) == -48
    utc = datetime(2026, 2, 13, 2, tzinfo=UTC)
    assert DEFAULT.add(utc, 24).tzinfo is UTC


def test_a_year_not_yet_published_counts_weekdays_until_it_is_given(tmp_path: Path) -> None:
    assert not DEFAULT.known(2031)
    assert DEFAULT.is_workday(date(2031, 1, 1))  # a Wednesday, holiday unknown
    (tmp_path / "calendar.yaml").write_text(
        "holidays: [2031-01-01]\nworkdays: [2031-01-04]\n", encoding="utf-8"
    )
    given = calendar_for(tmp_path)
    assert given.known(2031)
    assert not given.is_workday(date(2031, 1, 1))
    assert given.is_workday(date(2031, 1, 4))  # a Saturday
    assert not given.is_workday(date(2031, 1, 5))
    (tmp_path / "calendar.yaml").write_text("holidays: [soon]\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="list of dates"):
        calendar_for(tmp_path)
    assert calendar_for(tmp_path / "none") is DEFAULT
    assert WorkCalendar().known(2026)
