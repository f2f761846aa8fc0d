"""Who keeps the one-thing catalog, who applies, who follows the applications."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal, Role

ONETHING_READ = identity.define_permission(
    "onething:items.read", "See the one-thing catalog (一件事清单) and its figures",
    Role.applicant, Role.case_handler, Role.unit_admin, Role.supervisor, Role.auditor,
    Role.viewer, Role.data_steward, Role.hotline_operator,
)  # fmt: skip
ONETHING_KEEP = identity.define_permission(
    "onething:items.keep", "Write the one-thing catalog's items (the bureau's stewards)",
    Role.data_steward,
)  # fmt: skip
ONETHING_APPLY = identity.define_permission(
    "onething:apply", "Apply for a one-thing item and follow one's own applications",
    Role.applicant,
)  # fmt: skip
ONETHING_FOLLOW = identity.define_permission(
    "onething:applications.read", "See the applications whose matters one's unit handles",
    Role.case_handler, Role.unit_admin, Role.supervisor, Role.auditor,
)  # fmt: skip

OneThingReader = Annotated[Principal, Depends(require(ONETHING_READ))]
OneThingKeeper = Annotated[Principal, Depends(require(ONETHING_KEEP))]
OneThingApplicant = Annotated[Principal, Depends(require(ONETHING_APPLY))]
OneThingFollower = Annotated[Principal, Depends(require(ONETHING_FOLLOW))]
