"""Values every API takes in, bounded to what storage and the calendar can hold: an integer of
64 bits (the widest column either database has), a date from the year 1000 on (earlier ones are
typing errors, and a time near the year 1 or 9999 cannot even be moved to UTC), a count of
hours or seconds that is not negative.

Route parameters use them through ``core/web/params.py``; request schemas use them directly.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, TypeVar

from pydantic import AfterValidator, Field

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
FIRST_YEAR = 1000

YEAR = r"[1-9]\d{3}"  # 1000–9999, as a pattern
MONTH = rf"{YEAR}-(0[1-9]|1[0-2])"  # YYYY-MM

Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
PositiveInt64 = Annotated[int, Field(ge=1, le=INT64_MAX)]
NonNegativeInt64 = Annotated[int, Field(ge=0, le=INT64_MAX)]


D = TypeVar("D", bound=date)


def check_date(value: D) -> D:
    """A date (or time) from the year 1000 on, whose instant can be written in UTC."""
    if value.year < FIRST_YEAR:
        raise ValueError(f"a date before the year {FIRST_YEAR} is not taken")
    if isinstance(value, datetime) and value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("the time is beyond the year 9999 in UTC") from None
    return value


Date = Annotated[date, AfterValidator(check_date)]
DateTime = Annotated[datetime, AfterValidator(check_date)]
