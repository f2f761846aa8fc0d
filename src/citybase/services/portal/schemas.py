from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from citybase.data.certificates.schemas import CertificateRead
from citybase.hub.cases.schemas import CaseRead
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


class MyPage(BaseModel):
    tied: bool = Field(description="The account is tied to a real-name identity")
    phone_masked: str = ""
    certificates: list[MyCertificate] = Field(default_factory=list)
    applications: list[ApplicationRead] = Field(default_factory=list)
    cases: list[CaseRead] = Field(default_factory=list)
