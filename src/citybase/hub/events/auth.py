"""Who reads the event taxonomy and who keeps it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal, Role

HUB_READ = identity.define_permission(
    "hub:read", "See the event taxonomy",
    Role.hotline_operator, Role.case_handler, Role.supervisor, Role.unit_admin,
    Role.data_steward, Role.auditor, Role.viewer,
)  # fmt: skip
HUB_TAXONOMY = identity.define_permission(
    "hub:taxonomy", "Keep the event taxonomy (the 12345 centre's supervisors)", Role.supervisor
)

Reader = Annotated[Principal, Depends(require(HUB_READ))]
Keeper = Annotated[Principal, Depends(require(HUB_TAXONOMY))]
