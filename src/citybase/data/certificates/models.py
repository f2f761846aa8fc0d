"""Tables of e-certificates (电子证照): the types a city issues, the certificates issued, and the
issuing units' SM2 keys."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType, TimestampMixin


class CertificateType(IdMixin, TimestampMixin, Base):
    """A kind of certificate (证照类型): its type code (GB/T 36902), who holds it (a person or an
    enterprise), the kind of unit that issues it and the units that may, and its fields."""

    __tablename__ = "certificate_types"

    code: Mapped[str] = mapped_column(String(21), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    holder_kind: Mapped[str] = mapped_column(String(12))  # person, enterprise
    issuer_kind: Mapped[str] = mapped_column(String(100))  # 卫生健康行政部门, 市场监管部门 …
    issuer_units: Mapped[list[str]] = mapped_column(JSONType, default=list)
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    validity_years: Mapped[int | None] = mapped_column(Integer)  # None: 长期 (no end)
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)


class CertificateKey(IdMixin, TimestampMixin, Base):
    """One SM2 key pair of an issuing unit. The private key is sealed; a retired key signs no
    more but still verifies what it signed."""

    __tablename__ = "certificate_keys"

    unit_code: Mapped[str] = mapped_column(String(40), index=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    public_key: Mapped[str] = mapped_column(String(128))
    private_key_sealed: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    retired_at: Mapped[datetime | None]


class Certificate(IdMixin, TimestampMixin, Base):
    """An issued certificate: the metadata of GB/T 36903, the holder known by the keyed hash of
    his number (the number itself sealed, and masked for display), the signed payload and its
    SM2 signature, and its revocation."""

    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("type_code", "issuer_unit_code", "issue_date", "running"),)

    identifier: Mapped[str] = mapped_column(String(80), unique=True)
    number: Mapped[str] = mapped_column(String(60), index=True)
    type_code: Mapped[str] = mapped_column(
        ForeignKey("certificate_types.code", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    holder_name: Mapped[str] = mapped_column(String(200))
    holder_kind: Mapped[str] = mapped_column(String(12))
    holder_id_type: Mapped[str] = mapped_column(String(3))  # 111 citizen ID, 001 credit code
    holder_key: Mapped[str] = mapped_column(String(20), index=True)
    holder_id_masked: Mapped[str] = mapped_column(String(40))
    holder_id_sealed: Mapped[str] = mapped_column(Text)
    baselib_id: Mapped[int | None]
    issuer_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    issuer_name: Mapped[str] = mapped_column(String(200))
    issuer_code: Mapped[str] = mapped_column(String(18))
    issue_date: Mapped[date]
    running: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[date]
    valid_until: Mapped[date | None]
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    payload: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))
    key_id: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(10), default="valid")  # valid, revoked
    issued_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str] = mapped_column(String(100), default="")
    revoke_reason: Mapped[str] = mapped_column(Text, default="")
