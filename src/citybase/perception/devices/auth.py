"""Who sees devices and readings, who registers devices, who sends readings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal, Role

PERCEPTION_READ = identity.define_permission(
    "perception:read", "See devices, their readings and alarms",
    Role.unit_admin, Role.data_steward, Role.hotline_operator, Role.case_handler, Role.supervisor,
    Role.auditor, Role.viewer,
)  # fmt: skip
DEVICES_MANAGE = identity.define_permission(
    "perception:devices", "Register device types and one's own unit's devices; keep rules",
    Role.unit_admin,
)  # fmt: skip
INGEST = identity.define_permission(
    "perception:ingest", "Send readings for one's own unit's devices (a gateway's API key)",
    Role.unit_admin,
)  # fmt: skip

Reader = Annotated[Principal, Depends(require(PERCEPTION_READ))]
Manager = Annotated[Principal, Depends(require(DEVICES_MANAGE))]
Ingester = Annotated[Principal, Depends(require(INGEST))]
