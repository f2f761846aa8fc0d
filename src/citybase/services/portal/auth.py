"""Who has a portal page of his own: applicants (办事申请人)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal, Role

PORTAL_MINE = identity.define_permission(
    "portal:mine", "See one's own certificates, applications and 12345 requests (我的)",
    Role.applicant,
)  # fmt: skip

PortalApplicant = Annotated[Principal, Depends(require(PORTAL_MINE))]
