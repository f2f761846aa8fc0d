"""E-certificates' API, under /api/v1/certificates: types, issuance, revocation, the units' keys,
and the public verification and key list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from citybase.core.errors import InvalidInput
from citybase.core.identity.service import actor_of
from citybase.core.web.access import Public
from citybase.core.web.deps import AppSettings, DbSession, reads_only
from citybase.core.web.params import Offset
from citybase.data.certificates import service
from citybase.data.certificates.auth import (
    CertificateDefiner,
    CertificateManager,
    CertificateReader,
)
from citybase.data.certificates.schemas import (
    CertificateCreate,
    CertificateRead,
    CertificateTypeCreate,
    CertificateTypeRead,
    PublicKeyRead,
    Revocation,
    VerificationResult,
    VerifyRequest,
)

router = APIRouter(prefix="/api/v1/certificates", tags=["e-certificates"])
Limit = Annotated[int, Query(ge=1, le=500, description="Rows to return")]


def base_url(request: Request, public_url: str | None) -> str:
    return (public_url or str(request.base_url)).rstrip("/")


@router.get("/types")
def list_types(session: DbSession, _: Public) -> list[CertificateTypeRead]:
    """The certificate types, their issuing units and fields (public: no personal data)."""
    return service.list_certificate_types(session)


@router.put("/types/{code}")
def define_type(
    session: DbSession, principal: CertificateDefiner, code: str, data: CertificateTypeCreate
) -> CertificateTypeRead:
    if code != data.code:
        raise InvalidInput("the path's code and the body's differ", field="code")
    return service.define_certificate_type(session, actor_of(principal), data)


@router.get("/keys")
def list_keys(session: DbSession, _: Public) -> list[PublicKeyRead]:
    """Every issuing unit's SM2 public keys, retired ones too: what an offline verifier needs."""
    return service.list_public_keys(session)


@router.post("/keys/rotate", status_code=201)
def rotate_key(
    session: DbSession, settings: AppSettings, principal: CertificateManager
) -> PublicKeyRead:
    """Retire one's unit's signing key and make a new one; the old one still verifies."""
    return service.rotate_unit_key(session, principal, settings.masking_key)


@router.post("/verify")
@reads_only
def verify(session: DbSession, _: Public, data: VerifyRequest) -> VerificationResult:
    """Whether a certificate token (or its QR code's URL) is valid, revoked, expired, forged or
    unknown. Anyone may ask; the answer is in the body (200), whatever the status."""
    return service.verify_certificate(session, data.payload)


@router.get("")
def list_certificates(
    session: DbSession, principal: CertificateReader, type_code: str | None = None,
    limit: Limit = 100, offset: Offset = 0,
) -> list[CertificateRead]:  # fmt: skip
    """The certificates one's unit issued (an auditor: all), newest first."""
    return service.get_accessible_certificates(session, principal, type_code=type_code,
                                               limit=limit, offset=offset)[1]  # fmt: skip


@router.post("", status_code=201)
def issue(
    session: DbSession, settings: AppSettings, principal: CertificateManager,
    data: CertificateCreate,
) -> CertificateRead:  # fmt: skip
    """Issue a certificate as one's unit, signed with its SM2 key."""
    return service.issue_certificate(session, principal, data, settings.masking_key)


@router.get("/{identifier}")
def read_certificate(
    session: DbSession, principal: CertificateReader, identifier: str
) -> CertificateRead:
    return service.get_accessible_certificate(session, principal, identifier)


@router.get("/{identifier}/qr.svg")
def qr_code(
    request: Request, session: DbSession, settings: AppSettings, principal: CertificateReader,
    identifier: str,
) -> Response:  # fmt: skip
    """The certificate's QR code (SVG): the verification URL carrying the signed token."""
    found = service.get_accessible_certificate(session, principal, identifier)
    url = service.verification_url(base_url(request, settings.web.public_url), found.token)
    return Response(service.qr_svg(url), media_type="image/svg+xml")


@router.post("/{identifier}/revoke")
def revoke(
    session: DbSession, principal: CertificateManager, identifier: str, data: Revocation
) -> CertificateRead:
    """Revoke one of one's unit's certificates, with the reason."""
    return service.revoke_certificate(session, principal, identifier, data)
