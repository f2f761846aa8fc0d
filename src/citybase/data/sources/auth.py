"""Who keeps the register of authoritative sources and settles conflicts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal, Role

SOURCES_MANAGE = identity.define_permission(
    "sources:manage",
    "Keep the register of authoritative sources and settle one-data-one-source conflicts",
    Role.data_steward,
)
SourcesManager = Annotated[Principal, Depends(require(SOURCES_MANAGE))]
