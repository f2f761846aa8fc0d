"""Who may see the bus and the jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal

SystemReader = Annotated[Principal, Depends(require(identity.SYSTEM_READ))]
