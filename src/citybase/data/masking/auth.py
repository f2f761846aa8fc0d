"""Who may change the masking policy and reveal pseudonyms."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal, Role

MASKING_POLICY = identity.define_permission(
    "masking:policy", "Change the platform's masking policy", Role.platform_admin
)
MASKING_REVEAL = identity.define_permission(
    "masking:reveal", "Reveal the value behind a pseudonym, for a case", Role.platform_admin
)
MASKING_READ = identity.define_permission(
    "masking:read", "See the masking policy and preview masked rows",
    Role.data_steward, Role.data_consumer, Role.unit_admin, Role.auditor,
)  # fmt: skip

PolicyEditor = Annotated[Principal, Depends(require(MASKING_POLICY))]
Revealer = Annotated[Principal, Depends(require(MASKING_REVEAL))]
MaskingReader = Annotated[Principal, Depends(require(MASKING_READ))]
