"""Open data's permission: deciding applications for conditionally open data."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal, Role

OPEN_DECIDE = identity.define_permission(
    "open:decide",
    "Decide the applications for one's own unit's conditionally open data",
    Role.data_steward,
)

OpenDecider = Annotated[Principal, Depends(require(OPEN_DECIDE))]

OPEN_HARVEST = identity.define_permission(
    "open:harvest",
    "Harvest another catalog (DCAT-AP) into one's own unit's drafts",
    Role.data_steward,
)

OpenHarvester = Annotated[Principal, Depends(require(OPEN_HARVEST))]
