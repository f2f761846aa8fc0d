from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from citybase.data.certificates.schemas import CertificateRead
from citybase.hub.cases.schemas import CaseRead
from citybase.services.evaluation.schemas import SubjectKind
from citybase.services.onething.schemas import ApplicationRead


class RegistrationCreate(BaseModel):
    """What a first-time citizen gives for the real-name check (实名核验)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=50)
    number: str = Field(min_length=15, max_length=18, description="Citizen ID (GB 11643)")
    phone: str = Field(min_length=11, max_length=20)


class CodeSent(BaseModel):
    phone_masked: str
    minutes: int


class MyCertificate(BaseModel):
    certificate: CertificateRead
    verify_url: str


class MyEnterprise(BaseModel):
    """A firm the signed-in citizen is the legal representative of (我的企业)."""

    id: int = Field(description="Its base-library file (一企一档)")
    name: str
    credit_code: str = ""


class MyPage(BaseModel):
    tied: bool = Field(description="The account is tied to a real-name identity")
    phone_masked: str = ""
    certificates: list[MyCertificate] = Field(default_factory=list)
    applications: list[ApplicationRead] = Field(default_factory=list)
    cases: list[CaseRead] = Field(default_factory=list)
    enterprises: list[MyEnterprise] = Field(default_factory=list)


class EnterpriseField(BaseModel):
    field: str
    label: str
    value: str = Field(description="As served: masked as its source's grade says")
    masked: bool = False


class RatingChoice(BaseModel):
    """Something done for the enterprise that its applicant rates (好差评), and where it stands."""

    kind: SubjectKind
    subject_id: str
    title: str
    state: str = Field(description="waiting, open or rated")
    grade: str = Field("", description="The grade given, by its national name (非常满意 …)")


class EnterprisePage(BaseModel):
    """企业空间: one firm as its legal representative sees it on the portal."""

    id: int
    name: str
    fields: list[EnterpriseField] = Field(default_factory=list)
    withheld: list[str] = Field(default_factory=list)
    access_id: int | None = Field(None, description="The traced read's access-log row")
    certificates: list[MyCertificate] = Field(default_factory=list)
    applications: list[ApplicationRead] = Field(default_factory=list)
    item_names: dict[str, str] = Field(default_factory=dict)
    ratings: list[RatingChoice] = Field(default_factory=list)
