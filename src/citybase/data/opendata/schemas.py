from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from citybase.core.codes import is_credit_code


class ApplicationStatus(StrEnum):
    pending = "pending"  # 待审核
    approved = "approved"  # 已同意
    refused = "refused"  # 未同意
    withdrawn = "withdrawn"  # 已撤回


class ApplicationCreate(BaseModel):
    applicant: str = Field(min_length=1, max_length=100, description="The applicant's name")
    organisation: str = Field("", max_length=200, description="Company or body applying, if any")
    credit_code: str = Field("", description="Its unified social credit code (GB 32100)")
    email: str = Field(max_length=200)
    phone: str = Field("", max_length=20)
    purpose: str = Field(min_length=10, max_length=2000, description="What the data is for")
    scenario: str = Field("", max_length=2000, description="应用场景: the product or study")
    days: int = Field(90, ge=1, le=365, description="For how long the data is wanted")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value.strip()):
            raise ValueError("not an e-mail address")
        return value.strip()

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        if value and not re.fullmatch(r"[0-9+\- ]{5,20}", value):
            raise ValueError("not a telephone number")
        return value

    @field_validator("credit_code")
    @classmethod
    def _credit_code(cls, value: str) -> str:
        value = value.strip().upper()
        if value and not is_credit_code(value):
            raise ValueError("not a valid unified social credit code (check character)")
        return value


class ApplicationReceipt(BaseModel):
    """What the applicant keeps: the number and the token to follow it (shown once)."""

    number: str
    token: str
    status: ApplicationStatus


class ApplicationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: str
    resource_code: str
    resource_name: str = ""
    provider_unit_code: str
    applicant: str
    organisation: str
    credit_code: str
    email: str
    phone: str
    purpose: str
    scenario: str
    days: int
    status: ApplicationStatus
    created_at: datetime
    decided_by: str
    decided_at: datetime | None
    reason: str
    valid_until: datetime | None
    downloads: int


class ApplicationDecision(BaseModel):
    approve: bool
    reason: str = Field("", max_length=2000)
    days: int | None = Field(None, ge=1, le=365, description="Shorter than asked, if so decided")


class Distribution(BaseModel):
    """One way to get a dataset's rows (a CKAN resource, a DCAT distribution)."""

    id: str
    format: str  # CSV, JSON, XLSX
    media_type: str
    url: str  # download address, or the page to apply from
    downloadable: bool


class OpenDataset(BaseModel):
    code: str
    name: str
    abstract: str
    unit_code: str
    unit_name: str
    region_code: str
    open_type: str
    open_condition: str
    update_cycle: str
    keywords: list[str]
    themes: list[str]
    bases: list[str]
    items: list[tuple[str, str, str]]  # name, type, meaning
    publish_date: date | None
    updated_at: datetime
    created_at: datetime
    row_count: int | None
    level: str
    distributions: list[Distribution] = []


class HarvestSourceCreate(BaseModel):
    """A catalog to harvest from its address, into one unit's drafts."""

    name: str = Field(min_length=2, max_length=200, description="采集来源名称")
    url: str = Field(min_length=8, max_length=1000, description="The catalog's DCAT-AP address")
    unit_code: str = Field(
        min_length=1, max_length=40, description="The unit whose drafts they become"
    )
    classification: str = Field(min_length=1, max_length=30, description="分类码 of the drafts")

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("an http or https address")
        return value.strip()


class HarvestSourceRead(HarvestSourceCreate):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_by: str
    last_run_at: datetime | None = None


class HarvestItem(BaseModel):
    uri: str
    title: str
    code: str = Field("", description="The draft it is here")
    placeholder: bool = Field(False, description="Its data items still to be described")
    problems: list[str] = Field(default_factory=list)


class HarvestReport(BaseModel):
    origin: str
    pages: int = 1
    found: int = 0
    created: list[HarvestItem] = Field(default_factory=list)
    updated: list[HarvestItem] = Field(default_factory=list)
    unchanged: list[HarvestItem] = Field(default_factory=list)
    kept: list[HarvestItem] = Field(
        default_factory=list, description="Changed at the source, but past draft here: left alone"
    )
    refused: list[HarvestItem] = Field(default_factory=list)
    applied: bool = False


class HarvestRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source_id: int | None
    origin: str
    unit_code: str
    actor: str
    applied: bool
    created_at: datetime
    report: HarvestReport
