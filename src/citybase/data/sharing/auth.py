"""Sharing's permissions."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require, require_any
from citybase.core.identity.schemas import Principal, Role

SHARE_REQUEST = identity.define_permission(
    "sharing:request", "Request other units' data for one's own unit",
    Role.data_steward, Role.data_consumer, Role.unit_admin,
)  # fmt: skip
SHARE_DECIDE = identity.define_permission(
    "sharing:decide", "Decide requests for one's own unit's data, and revoke grants",
    Role.data_steward,
)  # fmt: skip

ShareRequester = Annotated[Principal, Depends(require(SHARE_REQUEST))]
ShareDecider = Annotated[Principal, Depends(require(SHARE_DECIDE))]
SHARE_READ = identity.define_permission(
    "sharing:read", "Read other units' data under a grant held by one's unit",
    Role.data_steward, Role.data_consumer, Role.unit_admin,
)  # fmt: skip
SHARE_AUDIT = identity.define_permission(
    "sharing:audit", "Search every unit's reads of shared data, by data subject too",
    Role.auditor,
)  # fmt: skip

ShareReader = Annotated[Principal, Depends(require(SHARE_READ))]
ShareAuditor = Annotated[Principal, Depends(require(SHARE_AUDIT))]
AccessViewer = Annotated[Principal, Depends(require_any(SHARE_READ, SHARE_AUDIT, SHARE_DECIDE))]
