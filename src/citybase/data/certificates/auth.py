"""Permissions of e-certificates. That a manager issues only the types his unit may issue, and
revokes only what his unit issued, is checked in the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal, Role

CERTIFICATES_ISSUE = identity.define_permission(
    "certificates:issue", "Issue and revoke one's unit's e-certificates, and rotate its signing key",
    Role.certificate_manager,
)  # fmt: skip
CERTIFICATES_READ = identity.define_permission(
    "certificates:read", "Read the e-certificates one's unit issued (auditors: all)",
    Role.certificate_manager, Role.unit_admin, Role.auditor,
)  # fmt: skip
CERTIFICATES_DEFINE = identity.define_permission(
    "certificates:define", "Define certificate types and the units that issue them",
    Role.platform_admin,
)  # fmt: skip

CertificateManager = Annotated[Principal, Depends(require(CERTIFICATES_ISSUE))]
CertificateReader = Annotated[Principal, Depends(require(CERTIFICATES_READ))]
CertificateDefiner = Annotated[Principal, Depends(require(CERTIFICATES_DEFINE))]
