"""E-certificates (电子证照): types, issuance signed with the issuing unit's SM2 key, revocation,
verification, and the face other domains use (一件事's 免证明: a certificate instead of paper).

- The platform defines certificate **types** (``define_certificate_type``): type code, holder
  kind, the kind of issuing unit and the units that may issue it, the fields.
- A unit's certificate manager **issues** (``issue_certificate``): the fields are checked against
  the type, the identifier is made after GB/T 36904, the metadata of GB/T 36903 are signed with
  the unit's SM2 key (made on first use, its private key sealed at rest), the issue goes on the
  ledger and ``CertificateIssued`` on the bus.
- Only the issuing unit's managers **revoke** (``revoke_certificate``), with a reason, on the
  ledger; ``CertificateRevoked`` on the bus. ``rotate_unit_key`` retires a unit's key: it signs no
  more, but stays published, so that what it signed still verifies.
- **Verification** (``verification.py``, re-exported here): ``verify_certificate`` for a presented
  token, ``require_valid`` for a certificate another domain relies on, ``verify_offline`` with
  published keys only.

The holder is known by the keyed hash of his number (``holder_key_of``, the access log's
``subject_tag``) and, when linked, his base-library id. The number itself is kept sealed and is
shown masked; it is in no signed payload. The request owns the transaction; nothing here commits.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.bus import service as bus
from citybase.core.codes import is_citizen_id, is_credit_code
from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal, Role
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.data.baselib import service as baselib
from citybase.data.certificates import identifier as ids
from citybase.data.certificates import repository, signing
from citybase.data.certificates.models import Certificate, CertificateKey, CertificateType
from citybase.data.certificates.schemas import (
    HOLDER_ID_TYPE,
    CertificateCreate,
    CertificateIssued,
    CertificateRead,
    CertificateRevoked,
    CertificateStatus,
    CertificateTypeCreate,
    CertificateTypeRead,
    FieldKind,
    HolderKind,
    PublicKeyRead,
    Revocation,
)
from citybase.data.certificates.verification import (
    CertificateNotValid,
    certificate_status,
    require_valid,
    signed_payload,
    to_read,
    verify_certificate,
    verify_offline,
)
from citybase.data.masking import operators as ops

__all__ = [
    "CertificateNotValid",
    "certificate_status",
    "define_certificate_type",
    "get_accessible_certificate",
    "get_accessible_certificates",
    "get_certificate_type",
    "holder_certificates",
    "holder_key_of",
    "issue_certificate",
    "list_certificate_types",
    "list_public_keys",
    "published_key",
    "qr_svg",
    "require_valid",
    "revoke_certificate",
    "rotate_unit_key",
    "sign_as_unit",
    "valid_certificates_for",
    "verification_url",
    "verify_certificate",
    "verify_offline",
]

MAX_TEXT = 500


# --- holders -------------------------------------------------------------------------------------


def normal_number(number: str) -> str:
    return number.strip().upper()


def holder_key_of(number: str, masking_key: str) -> str:
    """The keyed hash by which every domain knows a holder (a citizen ID or a credit code): the
    access log's ``subject_tag`` under the platform's masking key."""
    return ops.subject_tag(normal_number(number), ops.keys_for(masking_key))


def _check_holder_number(kind: HolderKind, number: str) -> None:
    if kind is HolderKind.person and not is_citizen_id(number):
        raise InvalidInput("not a valid citizen ID (GB 11643): 18 characters with a right check "
                           "character", field="holder_id")  # fmt: skip
    if kind is HolderKind.enterprise and not is_credit_code(number):
        raise InvalidInput("not a valid unified social credit code (GB 32100): 18 characters with "
                           "a right check character", field="holder_id")  # fmt: skip


def _masked(number: str) -> str:
    return ops.keep(number, 4, 2)


# --- types ---------------------------------------------------------------------------------------


def _type_read(row: CertificateType) -> CertificateTypeRead:
    return CertificateTypeRead.model_validate(row)


def define_certificate_type(
    session: Session, actor: Actor, data: CertificateTypeCreate
) -> CertificateTypeRead:
    """Define a type, or change one (same code): its name, issuing units and fields. Certificates
    already issued keep the fields they were signed with."""
    problem = ids.type_code_problem(data.code)
    if problem:
        raise InvalidInput(problem, field="code")
    known = orgs.unit_names(session, data.issuer_units)
    missing = [code for code in data.issuer_units if code not in known]
    if missing:
        raise InvalidInput(f"no unit {', '.join(missing)}", field="issuer_units")
    values = data.model_dump(mode="json")
    row = repository.get_type(session, data.code)
    action = "certificate_type.update"
    if row is None:
        row = CertificateType(code=data.code)
        session.add(row)
        action = "certificate_type.define"
    for name, value in values.items():
        setattr(row, name, value)
    row.active = True
    session.flush()
    ledger.record(session, actor, action, object_type="certificate_type", object_id=data.code,
                  details={"name": data.name, "issuer_units": data.issuer_units})  # fmt: skip
    return _type_read(row)


def list_certificate_types(session: Session) -> list[CertificateTypeRead]:
    return [_type_read(t) for t in repository.list_types(session)]


def get_certificate_type(session: Session, code: str) -> CertificateTypeRead:
    row = repository.get_type(session, code)
    if row is None or not row.active:
        raise NotFound(f"no certificate type {code}", field="type_code")
    return _type_read(row)


def _check_fields(kind: CertificateType, given: dict[str, Any]) -> dict[str, Any]:
    """The fields of a certificate as the type wants them, each refusal naming its field."""
    specs = {spec["name"]: spec for spec in kind.fields}
    unknown = [name for name in given if name not in specs]
    if unknown:
        raise InvalidInput(f"{kind.name} has no field {unknown[0]}", field=f"fields.{unknown[0]}")
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        value = given.get(name)
        text = "" if value is None else str(value).strip()
        where = f"fields.{name}"
        if not text:
            if spec.get("required", True):
                raise InvalidInput(f"{spec['label']} ({name}) is required", field=where)
            continue
        if len(text) > MAX_TEXT:
            raise InvalidInput(f"{spec['label']} is longer than {MAX_TEXT} characters", field=where)
        kind_of = FieldKind(spec.get("kind", "text"))
        if kind_of is FieldKind.date:
            try:
                text = date.fromisoformat(text).isoformat()
            except ValueError:
                raise InvalidInput(f"{spec['label']} is a date: YYYY-MM-DD", field=where) from None
        elif kind_of is FieldKind.number:
            try:
                number = Decimal(text)
            except InvalidOperation:
                raise InvalidInput(f"{spec['label']} is a number", field=where) from None
            if not number.is_finite():
                raise InvalidInput(f"{spec['label']} is a number", field=where)
            text = str(number)
        elif kind_of is FieldKind.choice and text not in spec.get("choices", []):
            raise InvalidInput(f"{spec['label']} is one of {', '.join(spec['choices'])}",
                               field=where)  # fmt: skip
        out[name] = text
    return out


# --- keys ----------------------------------------------------------------------------------------


def _new_key(session: Session, unit_code: str, masking_key: str, actor: Actor) -> CertificateKey:
    pair = signing.generate_key_pair()
    row = CertificateKey(
        unit_code=unit_code, key_id=signing.key_id(pair.public_hex), public_key=pair.public_hex,
        private_key_sealed=signing.seal_private_key(pair.private_hex, masking_key),
        created_by=actor.name,
    )  # fmt: skip
    session.add(row)
    session.flush()
    ledger.record(session, actor, "certificate_key.create", object_type="certificate_key",
                  object_id=row.key_id, details={"unit": unit_code})  # fmt: skip
    return row


def _signing_key(
    session: Session, unit_code: str, masking_key: str, actor: Actor
) -> tuple[CertificateKey, str]:
    row = repository.active_key(session, unit_code) or _new_key(
        session, unit_code, masking_key, actor
    )
    try:
        return row, signing.open_private_key(row.private_key_sealed, masking_key)
    except ValueError as exc:
        raise Conflict(f"the signing key of {unit_code} was sealed under another masking key: "
                       "rotate the unit's key", field="unit") from exc  # fmt: skip


def _require_manager(principal: Principal) -> None:
    if not principal.has_role(Role.certificate_manager):
        raise Forbidden("only an issuing unit's certificate managers issue, revoke and rotate "
                        "keys", field="permission")  # fmt: skip


def rotate_unit_key(session: Session, principal: Principal, masking_key: str) -> PublicKeyRead:
    """Retire the manager's unit's signing key and make a new one. The old key is still
    published and still verifies what it signed before."""
    _require_manager(principal)
    if not any(principal.unit_code in t.issuer_units for t in repository.list_types(session)):
        raise Forbidden(f"{principal.unit_code} issues no certificate type: it has no signing key",
                        field="unit")  # fmt: skip
    actor = actor_of(principal)
    old = repository.active_key(session, principal.unit_code)
    if old is not None:
        old.retired_at = datetime.now(UTC)
        ledger.record(session, actor, "certificate_key.retire", object_type="certificate_key",
                      object_id=old.key_id, details={"unit": principal.unit_code})  # fmt: skip
    row = _new_key(session, principal.unit_code, masking_key, actor)
    return _public_keys(session, [row])[0]


def _public_keys(session: Session, rows: Sequence[CertificateKey]) -> list[PublicKeyRead]:
    units = {u.code: u for u in orgs.list_units(session)} if rows else {}
    out = []
    for row in rows:
        unit = units.get(row.unit_code)
        out.append(PublicKeyRead(
            unit_code=row.unit_code, unit_name=unit.name if unit else row.unit_code,
            issuer_code=(unit.credit_code or "") if unit else "", key_id=row.key_id,
            public_key="04" + row.public_key, created_at=row.created_at,
            retired_at=row.retired_at,
        ))  # fmt: skip
    return out


@dataclass(frozen=True)
class UnitSignature:
    """An SM2-with-SM3 signature made with a unit's key: r ‖ s, and the key that verifies it."""

    unit_code: str
    key_id: str
    public_key: str  # 04 ‖ x ‖ y, as published
    signature: bytes


def sign_as_unit(
    session: Session, unit_code: str, data: bytes, masking_key: str, actor: Actor
) -> UnitSignature:
    """Sign ``data`` with the unit's active key (made, and put on the ledger, on first use), for
    the domains that deliver something in a unit's name (a data product's file). The caller
    separates its signatures from a certificate's by what it signs (a prefix of its own)."""
    key, private_hex = _signing_key(session, unit_code, masking_key, actor)
    signature = signing.sign(private_hex, key.public_key, data)
    return UnitSignature(unit_code, key.key_id, "04" + key.public_key, signature)


def published_key(session: Session, key_id: str) -> PublicKeyRead | None:
    """One published key (active or retired) by its id, or None."""
    row = repository.key_by_id(session, key_id)
    return _public_keys(session, [row])[0] if row is not None else None


def list_public_keys(session: Session) -> list[PublicKeyRead]:
    """Every unit's public keys, the retired ones too (they verify what they signed)."""
    return _public_keys(session, repository.list_keys(session))


# --- issuance ------------------------------------------------------------------------------------


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def issue_certificate(
    session: Session, principal: Principal, data: CertificateCreate, masking_key: str,
    *, today: date | None = None,
) -> CertificateRead:  # fmt: skip
    """Issue a certificate of ``data.type_code`` as the principal's unit (which must be one of
    the type's issuing units), signed with the unit's SM2 key."""
    _require_manager(principal)
    kind = repository.get_type(session, data.type_code)
    if kind is None or not kind.active:
        raise NotFound(f"no certificate type {data.type_code}", field="type_code")
    if principal.unit_code not in kind.issuer_units:
        raise Forbidden(f"{principal.unit_code} is not an issuing unit of {kind.name} "
                        f"({kind.issuer_kind})", field="type_code")  # fmt: skip
    unit = orgs.get_unit(session, principal.unit_code)
    if not unit.credit_code:
        raise Conflict(f"{unit.name} has no unified social credit code: the identifier needs it "
                       "as the issuing authority code", field="unit")  # fmt: skip
    holder_kind = HolderKind(kind.holder_kind)
    number = normal_number(data.holder_id)
    _check_holder_number(holder_kind, number)
    fields = _check_fields(kind, data.fields)
    issued = today or clock.today()
    valid_from = data.valid_from or issued
    valid_until = data.valid_until
    if valid_until is None and kind.validity_years:
        valid_until = _add_years(valid_from, kind.validity_years)
    if valid_until is not None and valid_until < valid_from:
        raise InvalidInput("the end of validity comes before its start", field="valid_until")
    actor = actor_of(principal)
    key, private_hex = _signing_key(session, unit.code, masking_key, actor)
    running = repository.next_running(session, kind.code, unit.code, issued)
    identifier = ids.build(kind.code, unit.credit_code, issued, running)
    holder_key = holder_key_of(number, masking_key)
    row = Certificate(
        identifier=identifier, number=data.number or f"{kind.code[-3:]}{issued:%Y%m%d}{running:04d}",
        type_code=kind.code, name=kind.name, holder_name=data.holder_name.strip(),
        holder_kind=holder_kind.value, holder_id_type=HOLDER_ID_TYPE[holder_kind],
        holder_key=holder_key, holder_id_masked=_masked(number),
        holder_id_sealed=signing.seal_value(number, masking_key),
        baselib_id=baselib.entity_id_by_subject(session, holder_kind.value, holder_key),
        issuer_unit_code=unit.code, issuer_name=unit.name, issuer_code=unit.credit_code,
        issue_date=issued, running=running, valid_from=valid_from, valid_until=valid_until,
        fields=fields, key_id=key.key_id, issued_by=actor.name, payload="", signature="",
    )  # fmt: skip
    payload = signing.canonical(signed_payload(row))
    row.payload = payload.decode()
    row.signature = signing.sign(private_hex, key.public_key, payload).hex()
    session.add(row)
    session.flush()
    ledger.record(session, actor, "certificate.issue", object_type="certificate",
                  object_id=identifier, reason=data.reason,
                  details={"type": kind.code, "holder": holder_key, "key": key.key_id})  # fmt: skip
    bus.publish(session, CertificateIssued(identifier=identifier, type_code=kind.code,
                                           issuer_unit_code=unit.code, holder_key=holder_key))  # fmt: skip
    return to_read(row, issued)


def revoke_certificate(
    session: Session, principal: Principal, identifier: str, data: Revocation
) -> CertificateRead:
    """Revoke (撤销) a certificate of the principal's unit, with the reason, for good."""
    _require_manager(principal)
    row = repository.get_certificate(session, identifier)
    if row is None:
        raise NotFound(f"no certificate {identifier}", field="identifier")
    if row.issuer_unit_code != principal.unit_code:
        raise Forbidden(f"certificate {identifier} was issued by {row.issuer_unit_code}: only its "
                        "certificate managers revoke it", field="identifier")  # fmt: skip
    if row.status == CertificateStatus.revoked:
        raise Conflict(f"certificate {identifier} is already revoked", field="identifier")
    row.status = CertificateStatus.revoked.value
    row.revoked_at = datetime.now(UTC)
    row.revoked_by = actor_of(principal).name
    row.revoke_reason = data.reason.strip()
    session.flush()
    ledger.record(session, actor_of(principal), "certificate.revoke", object_type="certificate",
                  object_id=identifier, reason=row.revoke_reason,
                  details={"type": row.type_code, "holder": row.holder_key})  # fmt: skip
    bus.publish(session, CertificateRevoked(
        identifier=identifier, type_code=row.type_code, issuer_unit_code=row.issuer_unit_code,
        holder_key=row.holder_key, reason=row.revoke_reason,
    ))  # fmt: skip
    return to_read(row)


# --- reads ---------------------------------------------------------------------------------------


def _sees_all(principal: Principal) -> bool:
    return principal.has_role(Role.auditor) or principal.has_role(Role.platform_admin)


def get_accessible_certificates(
    session: Session, principal: Principal, *, type_code: str | None = None, limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[CertificateRead]]:  # fmt: skip
    """The certificates the principal's unit issued (an auditor's: all)."""
    unit = None if _sees_all(principal) else principal.unit_code
    total, rows = repository.list_certificates(session, unit_code=unit, type_code=type_code,
                                               limit=limit, offset=offset)  # fmt: skip
    today = clock.today()
    return total, [to_read(r, today) for r in rows]


def get_accessible_certificate(
    session: Session, principal: Principal, identifier: str
) -> CertificateRead:
    row = repository.get_certificate(session, identifier)
    if row is None or not (_sees_all(principal) or row.issuer_unit_code == principal.unit_code):
        raise NotFound(f"no certificate {identifier}", field="identifier")
    return to_read(row)


def valid_certificates_for(
    session: Session, *, holder_key: str, type_codes: Sequence[str] | None = None,
    today: date | None = None,
) -> list[CertificateRead]:  # fmt: skip
    """The holder's certificates valid today (not revoked, within their validity), of the given
    types or all. For relying on one, call ``require_valid``, which also checks its signature."""
    today = today or clock.today()
    rows = repository.certificates_of_holder(session, holder_key, type_codes)
    reads = [to_read(r, today) for r in rows]
    return [r for r in reads if r.status is CertificateStatus.valid]


def holder_certificates(
    session: Session, holder_id: str, certificate: str, masking_key: str
) -> list[CertificateRead]:
    """The portal's look-up: every certificate of the holder of ``holder_id``, given the
    identifier or number of one of them (which shows he holds it). A number with no such
    certificate is answered the same way whether or not the number holds others."""
    number = normal_number(holder_id)
    if not (is_citizen_id(number) or is_credit_code(number)):
        raise InvalidInput("not a valid citizen ID or unified social credit code",
                           field="holder_id")  # fmt: skip
    key = holder_key_of(number, masking_key)
    rows = repository.certificates_of_holder(session, key)
    wanted = certificate.strip()
    if not any(wanted in (r.identifier, r.number) for r in rows):
        raise NotFound("no certificate with this identifier or number for this holder",
                       field="certificate")  # fmt: skip
    ledger.record(session, Actor.system("holder (portal)"), "certificate.holder_lookup",
                  object_type="certificate_holder", object_id=key,
                  details={"certificates": len(rows)})  # fmt: skip
    today = clock.today()
    return [to_read(r, today) for r in rows]


# --- QR codes ------------------------------------------------------------------------------------


def verification_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/certificates/verify?c={token}"


def qr_svg(text: str) -> str:
    """A QR code of ``text`` as an SVG drawn here (qrcode's path image, about 6 cm across): no
    script, no style, no XML declaration, so that a page may hold it inline."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=6,
                        error_correction=qrcode.constants.ERROR_CORRECT_M)  # fmt: skip
    buffer = io.BytesIO()
    image.save(buffer)
    drawn = buffer.getvalue().decode()
    drawn = drawn[drawn.index("<svg") :]
    return drawn.replace("<svg ", '<svg role="img" aria-label="QR code" ', 1)
