"""Who keeps quality rules and who disputes data."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal, Role

QUALITY_MANAGE = identity.define_permission(
    "quality:manage", "Keep quality rules for one's own unit's data, run them, answer disputes",
    Role.data_steward,
)  # fmt: skip
QUALITY_DISPUTE = identity.define_permission(
    "quality:dispute", "See data quality and dispute other units' data",
    Role.data_steward, Role.data_consumer, Role.unit_admin, Role.auditor,
)  # fmt: skip

QualityManager = Annotated[Principal, Depends(require(QUALITY_MANAGE))]
Disputer = Annotated[Principal, Depends(require(QUALITY_DISPUTE))]
