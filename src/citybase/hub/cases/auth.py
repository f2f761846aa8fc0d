"""Who may see and move cases. The centre (12345 operators and supervisors) takes in, dispatches,
follows up and closes; a unit's case handlers sign, handle, reply, return and ask for more time on
their own unit's cases; supervisors decide extensions, reopen and urge."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal, Role

CASES_READ = identity.define_permission(
    "hub:cases.read", "See cases: all of them for the centre, one's own unit's for a unit",
    Role.hotline_operator, Role.case_handler, Role.supervisor, Role.unit_admin, Role.auditor,
)  # fmt: skip
CASES_ALL = identity.define_permission(
    "hub:cases.all", "See every case, whichever unit handles it",
    Role.hotline_operator, Role.supervisor, Role.auditor,
)  # fmt: skip
CASES_INTAKE = identity.define_permission(
    "hub:cases.intake", "Take in cases (受理)", Role.hotline_operator, Role.supervisor
)
CASES_DISPATCH = identity.define_permission(
    "hub:cases.dispatch", "Dispatch, reassign, merge, follow up and close cases",
    Role.hotline_operator, Role.supervisor,
)  # fmt: skip
CASES_HANDLE = identity.define_permission(
    "hub:cases.handle", "Sign for, handle, reply to, return a unit's cases and ask for time",
    Role.case_handler, Role.unit_admin,
)  # fmt: skip
CASES_SUPERVISE = identity.define_permission(
    "hub:cases.supervise", "Decide extensions, reopen, urge and close disputed cases",
    Role.supervisor,
)  # fmt: skip
CASES_CONTACT = identity.define_permission(
    "hub:cases.contact", "See a reporter's name and phone unmasked (each look is on the ledger)",
    Role.hotline_operator, Role.supervisor, Role.case_handler,
)  # fmt: skip
DISPATCH_CATALOG = identity.define_permission(
    "hub:dispatch.catalog", "Keep the dispatch catalog (派单目录)", Role.supervisor
)

Reader = Annotated[Principal, Depends(require(CASES_READ))]
Intake = Annotated[Principal, Depends(require(CASES_INTAKE))]
ContactReader = Annotated[Principal, Depends(require(CASES_CONTACT))]
CentreReader = Annotated[Principal, Depends(require(CASES_ALL))]
CatalogKeeper = Annotated[Principal, Depends(require(DISPATCH_CATALOG))]
