"""Permission dependencies for regions and units."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal

OrgsReader = Annotated[Principal, Depends(require(identity.ORGS_READ))]
OrgsWriter = Annotated[Principal, Depends(require(identity.ORGS_WRITE))]
