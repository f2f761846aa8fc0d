"""Permissions of the sandbox. Who declares and grants on a resource (its providing unit's
stewards, or the bureau) is checked in the service too."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal, Role

SANDBOX_QUERY = identity.define_permission(
    "sandbox:query", "Ask differentially private queries under one's unit's sandbox grants",
    Role.data_consumer, Role.data_steward, Role.data_operator,
)  # fmt: skip
SANDBOX_GOVERN = identity.define_permission(
    "sandbox:govern", "Declare one's unit's resources to the sandbox and grant privacy budgets "
    "on them (the bureau's stewards: on any)", Role.data_steward,
)  # fmt: skip

SandboxAnalyst = Annotated[Principal, Depends(require(SANDBOX_QUERY))]
SandboxSteward = Annotated[Principal, Depends(require(SANDBOX_GOVERN))]
