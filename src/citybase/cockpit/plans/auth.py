"""Who sees the plans' progress, who reports on it, and who runs the supervision."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal, Role

COCKPIT_READ = identity.define_permission(
    "cockpit:read", "See the plans, their indicators, tasks and progress",
    Role.unit_admin, Role.data_steward, Role.data_consumer, Role.supervisor, Role.auditor,
    Role.viewer, Role.case_handler, Role.hotline_operator, Role.data_operator,
    Role.certificate_manager,
    Role.applicant,  # the plans' progress is published to the public; an applicant may read it
)  # fmt: skip
COCKPIT_REPORT = identity.define_permission(
    "cockpit:report", "Report one's unit's indicator values and monthly task updates",
    Role.unit_admin, Role.data_steward,
)  # fmt: skip
COCKPIT_MANAGE = identity.define_permission(
    "cockpit:manage",
    "Load and edit plans, approve reported values (the bureau's supervision)",
)

Reader = Annotated[Principal, Depends(require(COCKPIT_READ))]
Reporter = Annotated[Principal, Depends(require(COCKPIT_REPORT))]
Manager = Annotated[Principal, Depends(require(COCKPIT_MANAGE))]
