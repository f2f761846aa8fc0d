"""The shapes of path and query parameters that every API shares, bounded in one place: an id
or a count beyond 64 bits, or a date before the year 1000, is the caller's error (a 400 or 422 in
the API's own format), never a number the database refuses with a 500.

``tests/security/test_bodies.py`` walks every route and fails on an integer parameter without
an upper bound.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from citybase.core.values import INT64_MAX, Date, DateTime

Id = Annotated[int, Path(ge=1, le=INT64_MAX, description="A row's number")]
Index = Annotated[int, Path(ge=0, le=INT64_MAX, description="A 0-based position")]
Offset = Annotated[int, Query(ge=0, le=INT64_MAX, description="Rows to skip")]
Page = Annotated[int, Query(ge=1, le=1_000_000_000, description="Page number, from 1")]
QueryDate = Annotated[Date | None, Query()]
QueryTime = Annotated[DateTime | None, Query()]
