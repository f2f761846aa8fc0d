from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest
from pydantic import TypeAdapter, ValidationError

from citybase.core.values import MONTH, Date, DateTime, Int64, check_date


def test_dates_from_the_year_1000_whose_utc_fits_the_calendar() -> None:
    assert check_date(date(1000, 1, 1)) == date(1000, 1, 1)
    with pytest.raises(ValueError, match="before the year 1000"):
        check_date(date(999, 12, 31))
    east = timezone(timedelta(hours=8))
    assert check_date(datetime(1000, 1, 2, tzinfo=east))
    with pytest.raises(ValueError, match="9999"):
        check_date(datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))))
    assert TypeAdapter(DateTime).validate_python("2026-12-06T08:00:00+08:00").tzinfo is not None
    with pytest.raises(ValidationError):
        TypeAdapter(Date).validate_python("0999-01-01")


def test_integers_within_64_bits() -> None:
    adapter = TypeAdapter(Int64)
    assert adapter.validate_python(2**63 - 1) == 2**63 - 1
    for outside in (2**63, -(2**63) - 1):
        with pytest.raises(ValidationError):
            adapter.validate_python(outside)


def test_month_pattern_takes_years_1000_to_9999() -> None:
    pattern = re.compile(f"^{MONTH}$")
    assert pattern.match("2026-12")
    assert pattern.match("1000-01")
    for bad in ("0999-12", "2026-13", "2026-00", "92-01"):
        assert not pattern.match(bad), bad
