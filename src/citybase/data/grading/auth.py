"""Who may grade data resources."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal, Role

GRADING = identity.define_permission(
    "grading:decide", "Scan data resources and decide their category and level", Role.data_steward
)

Grader = Annotated[Principal, Depends(require(GRADING))]
