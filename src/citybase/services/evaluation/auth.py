"""Who sees and works ratings. A unit's staff see their own unit's ratings and answer its 差评;
the service centre (12345 operators, supervisors) and auditors see every unit's, and the centre
makes the revisit (回访). Citizens rate without signing in, proving themselves the applicant."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal, Role

EVALUATION_READ = identity.define_permission(
    "services:evaluation.read", "See ratings (好差评): every unit's for the centre, one's own "
    "unit's for a unit", Role.case_handler, Role.unit_admin, Role.hotline_operator,
    Role.supervisor, Role.auditor,
)  # fmt: skip
EVALUATION_ALL = identity.define_permission(
    "services:evaluation.all", "See every unit's ratings",
    Role.hotline_operator, Role.supervisor, Role.auditor,
)  # fmt: skip
EVALUATION_RECTIFY = identity.define_permission(
    "services:evaluation.rectify", "Answer one's unit's bad ratings (差评整改)",
    Role.case_handler, Role.unit_admin,
)  # fmt: skip
EVALUATION_REVISIT = identity.define_permission(
    "services:evaluation.revisit", "Record the revisit of a rectified bad rating (回访)",
    Role.hotline_operator, Role.supervisor,
)  # fmt: skip

Reader = Annotated[Principal, Depends(require(EVALUATION_READ))]
Rectifier = Annotated[Principal, Depends(require(EVALUATION_RECTIFY))]
Revisitor = Annotated[Principal, Depends(require(EVALUATION_REVISIT))]
