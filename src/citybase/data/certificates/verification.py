"""Whether a certificate may be relied on: its state today, the signed payload, the check of a
presented token (online against the issuance record and the unit's key; offline against
published keys only) and ``require_valid`` for the domains that accept a certificate in place of
paper (免证明).

Online, a token that is byte for byte the one issued (payload and signature) is the issued one:
the record is the authority, and the SM2 verification is skipped unless asked for
(``check_signature``). A token that differs is checked against the key it names: a bad signature,
an unknown key, or a good signature on a payload other than the issued one is a forgery.
``require_valid`` always verifies the stored certificate's signature, so that a record altered in
the database is caught at the moment it would be relied on.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.errors import Conflict, NotFound
from citybase.data.certificates import repository, signing
from citybase.data.certificates.models import Certificate
from citybase.data.certificates.schemas import (
    CertificateRead,
    CertificateStatus,
    HolderKind,
    VerificationResult,
    VerificationStatus,
)


class CertificateNotValid(Conflict):
    """A certificate that may not be relied on; ``status`` says why (revoked, expired,
    not_yet_valid, forged, wrong_holder, wrong_type)."""

    code = "certificate_not_valid"

    def __init__(self, message: str, *, status: str, identifier: str) -> None:
        super().__init__(message, field="certificate", status=status, identifier=identifier)
        self.status = status
        self.identifier = identifier


def certificate_status(row: Certificate, today: date | None = None) -> CertificateStatus:
    today = today or clock.today()
    if row.status == CertificateStatus.revoked:
        return CertificateStatus.revoked
    if today < row.valid_from:
        return CertificateStatus.not_yet_valid
    if row.valid_until is not None and today > row.valid_until:
        return CertificateStatus.expired
    return CertificateStatus.valid


def to_read(row: Certificate, today: date | None = None) -> CertificateRead:
    return CertificateRead(
        identifier=row.identifier, number=row.number, type_code=row.type_code, name=row.name,
        holder_name=row.holder_name, holder_kind=HolderKind(row.holder_kind),
        holder_id_type=row.holder_id_type, holder_id_masked=row.holder_id_masked,
        holder_key=row.holder_key, baselib_id=row.baselib_id,
        issuer_unit_code=row.issuer_unit_code, issuer_name=row.issuer_name,
        issuer_code=row.issuer_code, issue_date=row.issue_date, valid_from=row.valid_from,
        valid_until=row.valid_until, fields=row.fields, key_id=row.key_id,
        status=certificate_status(row, today), revoked_at=row.revoked_at,
        revoke_reason=row.revoke_reason, issued_by=row.issued_by,
        token=signing.make_token(row.payload.encode(), bytes.fromhex(row.signature)),
    )  # fmt: skip


def signed_payload(row: Certificate) -> dict[str, Any]:
    """What the signature covers: the metadata of GB/T 36903 a verifier needs, with the holder's
    number masked and the type's fields as their SM3 hash (the fields stay off the QR code)."""
    return {
        "v": 1, "id": row.identifier, "no": row.number, "name": row.name, "type": row.type_code,
        "holder": row.holder_name, "holder_id_type": row.holder_id_type,
        "holder_id": row.holder_id_masked, "issuer": row.issuer_name,
        "issuer_code": row.issuer_code, "issued": row.issue_date.isoformat(),
        "from": row.valid_from.isoformat(),
        "until": row.valid_until.isoformat() if row.valid_until else None,
        "fields_sm3": signing.sm3_hex(signing.canonical(row.fields)), "kid": row.key_id,
    }  # fmt: skip


def _from_row(row: Certificate, today: date, **values: Any) -> VerificationResult:
    status = VerificationStatus(certificate_status(row, today).value)
    return VerificationResult.of(status, identifier=row.identifier, revoked_at=row.revoked_at,
                                 revoke_reason=row.revoke_reason, **values)  # fmt: skip


def _dates_status(payload: dict[str, Any], today: date) -> VerificationStatus:
    try:
        start = date.fromisoformat(str(payload.get("from")))
        end = payload.get("until")
        until = date.fromisoformat(str(end)) if end else None
    except ValueError:
        return VerificationStatus.malformed
    if today < start:
        return VerificationStatus.not_yet_valid
    if until is not None and today > until:
        return VerificationStatus.expired
    return VerificationStatus.valid


def verify_certificate(
    session: Session, payload: str, *, check_signature: bool = False, today: date | None = None
) -> VerificationResult:
    """What a presented token (or the URL of its QR code) is: valid, revoked, expired, not yet
    valid, forged, unknown here, or no token at all. Status is read from the record every time."""
    today = today or clock.today()
    try:
        token = signing.read_token(payload)
    except signing.BadToken:
        return VerificationResult.of(VerificationStatus.malformed)
    said = token.payload
    identifier = said.get("id") if isinstance(said.get("id"), str) else None
    row = repository.get_certificate(session, identifier) if identifier else None
    matched = (
        row is not None
        and hmac.compare_digest(row.payload.encode(), token.payload_bytes)
        and hmac.compare_digest(row.signature, token.signature.hex())
    )
    if matched and not check_signature:
        assert row is not None
        return _from_row(row, today, payload=said)
    key = repository.key_by_id(session, str(said.get("kid", "")))
    if key is None or not signing.verify(key.public_key, token.payload_bytes, token.signature):
        return VerificationResult.of(VerificationStatus.forged, identifier=identifier,
                                     signature_checked=key is not None, payload=said)  # fmt: skip
    if (
        key.retired_at is not None
        # the issue date is the city's day: so is the day the key was retired (in UTC it is
        # still the day before for the first eight hours of the city's day)
        and str(said.get("issued", "")) > clock.city_date(key.retired_at).isoformat()
    ):
        return VerificationResult.of(VerificationStatus.forged, identifier=identifier,
                                     signature_checked=True, payload=said)  # fmt: skip
    if row is None:
        return VerificationResult.of(VerificationStatus.unknown, identifier=identifier,
                                     signature_checked=True, payload=said)  # fmt: skip
    if not matched:  # our key's signature on something we did not issue under this identifier
        return VerificationResult.of(VerificationStatus.forged, identifier=identifier,
                                     signature_checked=True, payload=said)  # fmt: skip
    return _from_row(row, today, payload=said, signature_checked=True)


def verify_offline(
    payload: str, public_keys: Mapping[str, str], *, today: date | None = None
) -> VerificationResult:
    """Check a token with published keys only (key id → public key): the signature and the
    validity dates. Offline, a revocation cannot be known: ``revocation_checked`` is false."""
    today = today or clock.today()
    try:
        token = signing.read_token(payload)
    except signing.BadToken:
        return VerificationResult.of(VerificationStatus.malformed, revocation_checked=False)
    said = token.payload
    identifier = said.get("id") if isinstance(said.get("id"), str) else None
    public = public_keys.get(str(said.get("kid", "")))
    if public is None or not signing.verify(public, token.payload_bytes, token.signature):
        return VerificationResult.of(VerificationStatus.forged, identifier=identifier,
                                     signature_checked=public is not None, payload=said,
                                     revocation_checked=False)  # fmt: skip
    return VerificationResult.of(_dates_status(said, today), identifier=identifier,
                                 signature_checked=True, payload=said,
                                 revocation_checked=False)  # fmt: skip


def _authentic(session: Session, row: Certificate) -> bool:
    key = repository.key_by_id(session, row.key_id)
    if key is None or signing.canonical(signed_payload(row)).decode() != row.payload:
        return False
    try:
        signature = bytes.fromhex(row.signature)
    except ValueError:
        return False
    return signing.verify(key.public_key, row.payload.encode(), signature)


_WHY = {
    CertificateStatus.revoked: "was revoked",
    CertificateStatus.expired: "has expired",
    CertificateStatus.not_yet_valid: "is not valid yet",
}


def require_valid(
    session: Session, certificate_id: str, *, holder_key: str | None = None,
    type_codes: Sequence[str] | None = None, today: date | None = None,
) -> CertificateRead:  # fmt: skip
    """The certificate ``certificate_id`` (its identifier) if it may be relied on today: its
    signature verifies, it belongs to ``holder_key`` and is of one of ``type_codes`` when given,
    and it is neither revoked, expired nor not yet valid. Otherwise ``CertificateNotValid``
    naming why (``status``: forged, wrong_holder, wrong_type, revoked, expired,
    not_yet_valid); ``NotFound`` when there is no such certificate."""
    today = today or clock.today()
    row = repository.get_certificate(session, certificate_id)
    if row is None:
        raise NotFound(f"no certificate {certificate_id}", field="certificate")
    if not _authentic(session, row):
        raise CertificateNotValid(f"certificate {certificate_id} is forged or altered: its SM2 "
                                  "signature does not verify", status="forged",
                                  identifier=certificate_id)  # fmt: skip
    if holder_key is not None and not hmac.compare_digest(row.holder_key, holder_key):
        raise CertificateNotValid(f"certificate {certificate_id} is not the holder's",
                                  status="wrong_holder", identifier=certificate_id)  # fmt: skip
    if type_codes is not None and row.type_code not in type_codes:
        raise CertificateNotValid(f"certificate {certificate_id} is a {row.name}, not of the "
                                  f"types asked for ({', '.join(type_codes)})", status="wrong_type",
                                  identifier=certificate_id)  # fmt: skip
    status = certificate_status(row, today)
    if status is not CertificateStatus.valid:
        when = {CertificateStatus.revoked: clock.city_date(row.revoked_at) if row.revoked_at else None,
                CertificateStatus.expired: row.valid_until,
                CertificateStatus.not_yet_valid: row.valid_from}[status]  # fmt: skip
        reason = f": {row.revoke_reason}" if status is CertificateStatus.revoked else ""
        raise CertificateNotValid(f"certificate {certificate_id} {_WHY[status]} ({when}){reason}",
                                  status=status.value, identifier=certificate_id)  # fmt: skip
    return to_read(row, today)
