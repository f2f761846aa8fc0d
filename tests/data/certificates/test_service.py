"""Issuance, revocation, verification and the face other domains use, on the database: who may
issue and revoke what, the fields checked against the type, the identifier, the holder kept only
as a keyed hash, a sealed number and a masked one, the ledger and the bus."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core.bus.models import OutboxEvent
from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.ledger.models import LedgerEntry
from citybase.data.certificates import identifier as ids
from citybase.data.certificates import service, signing
from citybase.data.certificates.models import Certificate, CertificateKey
from citybase.data.certificates.schemas import CertificateStatus, Revocation, VerificationStatus
from tests.data.certificates.factories import (
    BIRTH,
    HEALTH_CODE,
    LICENCE,
    MASKING_KEY,
    birth,
    cert_city,
    citizen_id,
    issue_birth,
    licence,
)


def test_issue_signs_the_metadata_and_keeps_the_number_only_sealed(session: Session) -> None:
    city = cert_city(session)
    made = issue_birth(session, city)
    assert made.identifier.startswith(f"{ids.ROOT}.{BIRTH}.{HEALTH_CODE}.")
    parts = ids.parse(made.identifier)
    assert parts is not None
    assert parts.version == "001"
    assert made.holder_key == service.holder_key_of(citizen_id(1), MASKING_KEY)
    assert made.holder_id_masked == citizen_id(1)[:4] + "*" * 12 + citizen_id(1)[-2:]
    assert made.status is CertificateStatus.valid
    assert made.valid_until is None
    row = session.scalar(select(Certificate).where(Certificate.identifier == made.identifier))
    assert row is not None
    assert citizen_id(1) not in row.payload
    assert citizen_id(1) not in row.holder_id_sealed
    assert signing.open_value(row.holder_id_sealed, MASKING_KEY) == citizen_id(1)
    token = signing.read_token(made.token)
    key = session.scalar(select(CertificateKey).where(CertificateKey.key_id == made.key_id))
    assert key is not None
    assert citizen_id(1) not in key.private_key_sealed
    assert signing.verify(key.public_key, token.payload_bytes, token.signature)
    assert token.payload["fields_sm3"] == signing.sm3_hex(signing.canonical(made.fields))
    entry = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "certificate.issue"))
    assert [e.object_id for e in entry] == [made.identifier]
    topics = session.scalars(select(OutboxEvent.topic)).all()
    assert "data.certificates.certificate.issued" in topics


def test_running_numbers_and_validity_from_the_type(session: Session) -> None:
    city = cert_city(session)
    first, second = issue_birth(session, city), issue_birth(session, city)
    assert first.identifier != second.identifier
    assert ids.parse(second.identifier).serial.endswith("0002")  # type: ignore[union-attr]
    made = service.issue_certificate(session, city.market, licence(), MASKING_KEY)
    assert made.valid_until == made.valid_from.replace(year=made.valid_from.year + 20)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"holder_id": "350102199001010012"}, "holder_id"),  # wrong check character
        ({"fields": {"sex": "女", "birth_date": "2026-11-30"}}, "fields.mother"),
        ({"fields": {"sex": "未知", "birth_date": "2026-11-30", "mother": "陈静"}}, "fields.sex"),
        ({"fields": {"sex": "女", "birth_date": "30/11/2026", "mother": "陈静"}}, "fields.birth_date"),
        ({"fields": {"sex": "女", "birth_date": "2026-11-30", "mother": "陈静", "weight_g": "重"}},
         "fields.weight_g"),
        ({"fields": {"sex": "女", "birth_date": "2026-11-30", "mother": "陈静", "blood": "A"}},
         "fields.blood"),
        ({"valid_from": "2026-12-01", "valid_until": "2026-11-01"}, "valid_until"),
    ],
)  # fmt: skip
def test_bad_fields_are_refused_by_name(
    session: Session, overrides: dict[str, object], field: str
) -> None:
    city = cert_city(session)
    with pytest.raises(InvalidInput) as refused:
        issue_birth(session, city, **overrides)
    assert refused.value.field == field


def test_only_the_types_units_managers_issue(session: Session) -> None:
    city = cert_city(session)
    with pytest.raises(Forbidden) as other_unit:  # the market regulator issues no birth certificate
        service.issue_certificate(session, city.market, birth(), MASKING_KEY)
    assert other_unit.value.field == "type_code"
    with pytest.raises(Forbidden):  # a unit that issues nothing
        service.issue_certificate(session, city.stranger, birth(), MASKING_KEY)
    with pytest.raises(Forbidden):  # the issuing unit's admin is no certificate manager
        service.issue_certificate(session, city.health_admin, birth(), MASKING_KEY)
    with pytest.raises(InvalidInput) as kind:  # a person's number on an enterprise's licence
        service.issue_certificate(session, city.market, licence(holder_id=citizen_id(2)),
                                  MASKING_KEY)  # fmt: skip
    assert kind.value.field == "holder_id"
    assert session.scalars(select(Certificate)).all() == []


def test_only_the_issuing_unit_revokes_and_revocation_is_checked_on_use(
    session: Session,
) -> None:
    city = cert_city(session)
    made = issue_birth(session, city)
    with pytest.raises(Forbidden):
        service.revoke_certificate(session, city.market, made.identifier,
                                   Revocation(reason="冒名顶替"))  # fmt: skip
    assert service.require_valid(session, made.identifier).status is CertificateStatus.valid
    revoked = service.revoke_certificate(session, city.health, made.identifier,
                                         Revocation(reason="信息登记错误，重新签发"))  # fmt: skip
    assert revoked.status is CertificateStatus.revoked
    with pytest.raises(Conflict):
        service.revoke_certificate(session, city.health, made.identifier,
                                   Revocation(reason="再次撤销"))  # fmt: skip
    with pytest.raises(service.CertificateNotValid) as refused:
        service.require_valid(session, made.identifier)
    assert refused.value.status == "revoked"
    assert "信息登记错误" in refused.value.message
    result = service.verify_certificate(session, made.token)
    assert result.status is VerificationStatus.revoked
    assert not result.valid
    assert result.revoke_reason == "信息登记错误，重新签发"
    assert service.valid_certificates_for(session, holder_key=made.holder_key) == []
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.action == "certificate.revoke"))
    assert entry is not None
    assert entry.reason == "信息登记错误，重新签发"


def test_a_forged_or_altered_certificate_is_caught(session: Session) -> None:
    city = cert_city(session)
    made = issue_birth(session, city)
    token = signing.read_token(made.token)
    altered = dict(token.payload, holder="李四")
    forged = signing.make_token(signing.canonical(altered), token.signature)
    assert service.verify_certificate(session, forged).status is VerificationStatus.forged
    other = signing.generate_key_pair()  # a well-made signature by a key nobody published
    self_signed = signing.make_token(
        signing.canonical(altered),
        signing.sign(other.private_hex, other.public_hex, signing.canonical(altered)),
    )
    assert service.verify_certificate(session, self_signed).status is VerificationStatus.forged
    assert service.verify_certificate(session, "CBC1.abc").status is VerificationStatus.malformed
    strict = service.verify_certificate(session, made.token, check_signature=True)
    assert strict.valid
    assert strict.signature_checked
    row = session.scalar(select(Certificate).where(Certificate.identifier == made.identifier))
    assert row is not None
    row.holder_name = "李四"  # a record altered in the database, behind the service's back
    session.flush()
    with pytest.raises(service.CertificateNotValid) as refused:
        service.require_valid(session, made.identifier)
    assert refused.value.status == "forged"


def test_require_valid_names_why(session: Session) -> None:
    city = cert_city(session)
    today = date(2026, 12, 6)
    made = service.issue_certificate(session, city.market, licence(valid_until="2027-01-01"),
                                     MASKING_KEY, today=today)  # fmt: skip
    later = date(2027, 1, 2)
    with pytest.raises(service.CertificateNotValid) as expired:
        service.require_valid(session, made.identifier, today=later)
    assert expired.value.status == "expired"
    assert service.verify_certificate(session, made.token, today=later).status == "expired"
    with pytest.raises(service.CertificateNotValid) as holder:
        service.require_valid(session, made.identifier, holder_key="0" * 20, today=today)
    assert holder.value.status == "wrong_holder"
    with pytest.raises(service.CertificateNotValid) as kind:
        service.require_valid(session, made.identifier, type_codes=[BIRTH], today=today)
    assert kind.value.status == "wrong_type"
    with pytest.raises(NotFound):
        service.require_valid(session, "1.2.156.3005.2.nothing")
    future = service.issue_certificate(
        session,
        city.market,
        licence(valid_from=today + timedelta(days=3)),
        MASKING_KEY,
        today=today,
    )
    with pytest.raises(service.CertificateNotValid) as early:
        service.require_valid(session, future.identifier, today=today)
    assert early.value.status == "not_yet_valid"


def test_valid_certificates_for_a_holder_by_type(session: Session) -> None:
    city = cert_city(session)
    mine = issue_birth(session, city)
    issue_birth(session, city, holder_id=citizen_id(7))
    found = service.valid_certificates_for(session, holder_key=mine.holder_key)
    assert [c.identifier for c in found] == [mine.identifier]
    assert service.valid_certificates_for(session, holder_key=mine.holder_key,
                                          type_codes=[LICENCE]) == []  # fmt: skip


def test_rotation_keeps_old_certificates_verifiable(session: Session) -> None:
    city = cert_city(session)
    old = issue_birth(session, city)
    new_key = service.rotate_unit_key(session, city.health, MASKING_KEY)
    assert new_key.key_id != old.key_id
    assert new_key.public_key.startswith("04")
    new = issue_birth(session, city)
    assert new.key_id == new_key.key_id
    keys = {k.key_id: k for k in service.list_public_keys(session)}
    assert keys[old.key_id].retired_at is not None
    assert keys[new.key_id].retired_at is None
    published = {k: v.public_key for k, v in keys.items()}
    for made in (old, new):
        assert service.verify_certificate(session, made.token, check_signature=True).valid
        assert service.require_valid(session, made.identifier).identifier == made.identifier
        offline = service.verify_offline(made.token, published)
        assert offline.valid
        assert not offline.revocation_checked
    assert service.verify_offline(old.token, {}).status is VerificationStatus.forged
    with pytest.raises(Forbidden):
        service.rotate_unit_key(session, city.health_admin, MASKING_KEY)
    with pytest.raises(Forbidden):  # a unit that issues no type has no key to rotate
        service.rotate_unit_key(session, city.stranger, MASKING_KEY)


def test_the_holder_sees_his_certificates_given_one_he_holds(session: Session) -> None:
    city = cert_city(session)
    made = issue_birth(session, city)
    issue_birth(session, city, holder_id=citizen_id(7))
    found = service.holder_certificates(session, citizen_id(1), made.number, MASKING_KEY)
    assert [c.identifier for c in found] == [made.identifier]
    with pytest.raises(NotFound):  # someone else's number with this certificate
        service.holder_certificates(session, citizen_id(7), made.identifier, MASKING_KEY)
    with pytest.raises(InvalidInput):
        service.holder_certificates(session, "12345", made.identifier, MASKING_KEY)
