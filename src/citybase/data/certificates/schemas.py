"""What e-certificates (电子证照) take and give: certificate types and their fields, issuance,
the certificate as read (GB/T 36903 metadata), revocation, verification results, published keys,
and the events other domains may react to."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from citybase.core.bus.schemas import Event

Text100 = Annotated[str, Field(min_length=1, max_length=100)]
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class HolderKind(StrEnum):
    """Who holds a certificate: a person (citizen ID, GB 11643) or an enterprise or other
    organisation (unified social credit code, GB 32100)."""

    person = "person"
    enterprise = "enterprise"


# GB/T 36903's holder identity type (持证主体代码类型), by holder kind
HOLDER_ID_TYPE = {HolderKind.person: "111", HolderKind.enterprise: "001"}
HOLDER_ID_TYPE_NAME = {"111": "公民身份号码", "001": "统一社会信用代码"}


class FieldKind(StrEnum):
    text = "text"
    date = "date"
    number = "number"
    choice = "choice"


class FieldSpec(BaseModel):
    """One field of a certificate type beyond the common metadata (出生医学证明: the newborn's
    sex, birth date, place of birth, the mother's name …)."""

    name: str = Field(min_length=1, max_length=40, description="a-z, digits and _")
    label: Text100 = Field(description="The field's name as printed (Chinese)")
    kind: FieldKind = FieldKind.text
    required: bool = True
    choices: list[Text100] = Field(default_factory=list, max_length=50)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not FIELD_NAME.match(value):
            raise ValueError("a field name starts with a-z and has only a-z, digits and _")
        return value

    @model_validator(mode="after")
    def _choices(self) -> FieldSpec:
        if (self.kind is FieldKind.choice) != bool(self.choices):
            raise ValueError("a choice field lists its choices, and only a choice field does")
        return self


class CertificateTypeBase(BaseModel):
    code: str = Field(
        min_length=21, max_length=21,
        description="Type code (GB/T 36902): the defining department's credit code and 3 digits",
    )  # fmt: skip
    name: Text100 = Field(description="证照名称, e.g. 出生医学证明")
    holder_kind: HolderKind
    issuer_kind: Text100 = Field(description="The kind of unit that issues it (颁证单位类型)")
    issuer_units: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        min_length=1, max_length=200, description="Codes of the units that may issue it"
    )
    fields: list[FieldSpec] = Field(default_factory=list, max_length=40)
    validity_years: int | None = Field(
        None, ge=1, le=100, description="Years a certificate is valid; none: no end (长期)"
    )
    description: str = Field("", max_length=2000)

    @model_validator(mode="after")
    def _unique_fields(self) -> CertificateTypeBase:
        names = [f.name for f in self.fields]
        if len(names) != len(set(names)):
            raise ValueError("two fields have the same name")
        return self


class CertificateTypeCreate(CertificateTypeBase):
    pass


class CertificateTypeRead(CertificateTypeBase):
    model_config = ConfigDict(from_attributes=True)

    id: int
    active: bool


class CertificateBase(BaseModel):
    type_code: str = Field(min_length=21, max_length=21)
    holder_name: str = Field(min_length=1, max_length=200, description="持证主体名称")
    fields: dict[str, Any] = Field(
        default_factory=dict, max_length=40, description="The type's fields, by name"
    )
    valid_from: date | None = Field(None, description="有效期起始; default: the issue date")
    valid_until: date | None = Field(
        None, description="有效期截止; default: from the type's validity (none: 长期)"
    )


class CertificateCreate(CertificateBase):
    holder_id: str = Field(
        min_length=15, max_length=18,
        description="The holder's citizen ID (GB 11643) or unified social credit code (GB 32100)",
    )  # fmt: skip
    number: str | None = Field(
        None, min_length=1, max_length=60, description="证照编号; default: made from the serial"
    )
    reason: str = Field("", max_length=500, description="Why issued: the application or basis")


class CertificateStatus(StrEnum):
    valid = "valid"
    revoked = "revoked"
    expired = "expired"
    not_yet_valid = "not_yet_valid"


class CertificateRead(CertificateBase):
    """An issued certificate with the metadata of GB/T 36903 and its signed token (what the QR
    code carries). The holder's number is never given, only its masked form and keyed hash."""

    identifier: str = Field(description="电子证照标识 (GB/T 36904)")
    number: str = Field(description="证照编号")
    name: str = Field(description="证照名称")
    holder_kind: HolderKind
    holder_id_type: str = Field(description="持证主体代码类型: 111 citizen ID, 001 credit code")
    holder_id_masked: str
    holder_key: str = Field(description="The keyed hash of the holder's number (access log's)")
    baselib_id: int | None = Field(None, description="The holder's base-library file, if linked")
    issuer_unit_code: str
    issuer_name: str = Field(description="颁发机构")
    issuer_code: str = Field(description="颁发机构代码 (unified social credit code)")
    issue_date: date = Field(description="颁发日期")
    valid_from: date
    key_id: str
    status: CertificateStatus
    revoked_at: datetime | None = None
    revoke_reason: str = ""
    issued_by: str
    token: str = Field(description="CBC1.<payload>.<SM2 signature>, base64url")


class Revocation(BaseModel):
    reason: str = Field(min_length=2, max_length=500, description="Why revoked (吊销/注销的理由)")


class VerificationStatus(StrEnum):
    """What a presented certificate turned out to be."""

    valid = "valid"
    revoked = "revoked"
    expired = "expired"
    not_yet_valid = "not_yet_valid"
    forged = "forged"  # the signature does not verify, or the payload differs from what was issued
    unknown = "unknown"  # well signed by a known key, but no such certificate here
    malformed = "malformed"  # not a certificate token at all


VERIFICATION_TEXTS: dict[VerificationStatus, tuple[str, str]] = {
    VerificationStatus.valid: ("证照有效", "The certificate is valid"),
    VerificationStatus.revoked: ("证照已撤销", "The certificate has been revoked"),
    VerificationStatus.expired: ("证照已过有效期", "The certificate has expired"),
    VerificationStatus.not_yet_valid: ("证照尚未生效", "The certificate is not valid yet"),
    VerificationStatus.forged: (
        "证照验证失败：签名不符或内容被篡改，疑似伪造",
        "The signature does not match or the content was altered: the certificate may be forged",
    ),
    VerificationStatus.unknown: (
        "签名有效，但本平台没有该证照的签发记录",
        "The signature verifies, but this platform has no record of the certificate",
    ),
    VerificationStatus.malformed: ("不是有效的电子证照数据", "This is not a certificate token"),
}


class VerificationResult(BaseModel):
    """The answer of a verification: a status, whether the certificate may be relied on, a
    message in English and Chinese, and what the signed payload says."""

    status: VerificationStatus
    valid: bool
    message: str
    message_zh: str
    identifier: str | None = None
    signature_checked: bool = Field(
        description="True when the SM2 signature was verified; false when the token was matched "
        "byte for byte against the issuance record instead"
    )
    revocation_checked: bool = Field(
        True, description="False for an offline check, which cannot know of a revocation"
    )
    payload: dict[str, Any] = Field(default_factory=dict, description="What the token says")
    revoked_at: datetime | None = None
    revoke_reason: str = ""

    @classmethod
    def of(cls, status: VerificationStatus, **values: Any) -> VerificationResult:
        zh, en = VERIFICATION_TEXTS[status]
        values.setdefault("signature_checked", False)
        return cls(status=status, valid=status is VerificationStatus.valid, message=en,
                   message_zh=zh, **values)  # fmt: skip


class VerifyRequest(BaseModel):
    payload: str = Field(
        min_length=1, max_length=8000,
        description="A certificate token (CBC1.…) or the verification URL the QR code holds",
    )  # fmt: skip


class PublicKeyRead(BaseModel):
    """A unit's published SM2 public key (GM/T 0003, curve sm2p256v1, signer ID
    1234567812345678)."""

    unit_code: str
    unit_name: str
    issuer_code: str
    key_id: str
    algorithm: str = "SM2-with-SM3"
    public_key: str = Field(description="04 ‖ x ‖ y, 130 hex digits")
    created_at: datetime
    retired_at: datetime | None = None


class HolderLookup(BaseModel):
    """The portal's look-up: the holder's number and the identifier or number of one of his
    certificates, which shows he holds it."""

    holder_id: str = Field(min_length=15, max_length=18)
    certificate: str = Field(min_length=1, max_length=80)


# --- events --------------------------------------------------------------------------------------


class CertificateIssued(Event):
    topic: ClassVar[str] = "data.certificates.certificate.issued"

    identifier: str
    type_code: str
    issuer_unit_code: str
    holder_key: str


class CertificateRevoked(Event):
    topic: ClassVar[str] = "data.certificates.certificate.revoked"

    identifier: str
    type_code: str
    issuer_unit_code: str
    holder_key: str
    reason: str
