"""Every query of the e-certificate tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.data.certificates.models import Certificate, CertificateKey, CertificateType


def get_type(session: Session, code: str) -> CertificateType | None:
    return session.scalar(select(CertificateType).where(CertificateType.code == code))


def list_types(session: Session, *, active_only: bool = True) -> list[CertificateType]:
    query = select(CertificateType).order_by(CertificateType.code)
    if active_only:
        query = query.where(CertificateType.active.is_(True))
    return list(session.scalars(query))


def types_by_code(session: Session, codes: Sequence[str]) -> dict[str, CertificateType]:
    if not codes:
        return {}
    found = session.scalars(select(CertificateType).where(CertificateType.code.in_(set(codes))))
    return {t.code: t for t in found}


def active_key(session: Session, unit_code: str) -> CertificateKey | None:
    return session.scalar(
        select(CertificateKey)
        .where(CertificateKey.unit_code == unit_code, CertificateKey.retired_at.is_(None))
        .order_by(CertificateKey.id.desc())
        .limit(1)
    )


def key_by_id(session: Session, key_id: str) -> CertificateKey | None:
    return session.scalar(select(CertificateKey).where(CertificateKey.key_id == key_id))


def list_keys(session: Session, unit_code: str | None = None) -> list[CertificateKey]:
    query = select(CertificateKey).order_by(CertificateKey.unit_code, CertificateKey.id)
    if unit_code is not None:
        query = query.where(CertificateKey.unit_code == unit_code)
    return list(session.scalars(query))


def next_running(session: Session, type_code: str, unit_code: str, day: date) -> int:
    """The next running number of a type, unit and day. Two issuers racing for the same number
    meet the unique constraint: the later transaction fails and may be retried."""
    last = session.scalar(
        select(func.max(Certificate.running)).where(
            Certificate.type_code == type_code,
            Certificate.issuer_unit_code == unit_code,
            Certificate.issue_date == day,
        )
    )
    return (last or 0) + 1


def get_certificate(session: Session, identifier: str) -> Certificate | None:
    return session.scalar(select(Certificate).where(Certificate.identifier == identifier))


def find_certificate(session: Session, identifier_or_number: str) -> Certificate | None:
    found = get_certificate(session, identifier_or_number)
    if found is not None:
        return found
    return session.scalar(
        select(Certificate).where(Certificate.number == identifier_or_number).limit(1)
    )


def certificates_of_holder(
    session: Session, holder_key: str, type_codes: Sequence[str] | None = None
) -> list[Certificate]:
    query = select(Certificate).where(Certificate.holder_key == holder_key)
    if type_codes is not None:
        query = query.where(Certificate.type_code.in_(list(type_codes)))
    return list(session.scalars(query.order_by(Certificate.issue_date.desc(), Certificate.id)))


def list_certificates(
    session: Session, *, unit_code: str | None, type_code: str | None = None,
    limit: int = 100, offset: int = 0,
) -> tuple[int, list[Certificate]]:  # fmt: skip
    query = select(Certificate)
    if unit_code is not None:
        query = query.where(Certificate.issuer_unit_code == unit_code)
    if type_code:
        query = query.where(Certificate.type_code == type_code)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Certificate.id.desc()).limit(limit).offset(offset))
    return total, list(rows)


def count_certificates(session: Session) -> int:
    return session.scalar(select(func.count(Certificate.id))) or 0
