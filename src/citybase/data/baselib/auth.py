"""The base libraries' permissions."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal, Role

BASELIB_STEWARD = identity.define_permission(
    "baselib:steward", "Run the base libraries' linkage and decide their review queue (the "
    "steward unit's data stewards)", Role.data_steward,
)  # fmt: skip
BASELIB_READ = identity.define_permission(
    "baselib:read", "Read a person's or enterprise's file, under the grants one's unit holds",
    Role.data_steward, Role.data_consumer, Role.unit_admin,
)  # fmt: skip

BASELIB_THEMES = identity.define_permission(
    "baselib:themes", "Define and build the theme libraries (主题库) one's unit owns",
    Role.data_steward,
)  # fmt: skip

BaselibSteward = Annotated[Principal, Depends(require(BASELIB_STEWARD))]
BaselibReader = Annotated[Principal, Depends(require(BASELIB_READ))]
BaselibThemes = Annotated[Principal, Depends(require(BASELIB_THEMES))]
