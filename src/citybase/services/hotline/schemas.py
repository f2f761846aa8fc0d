from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Open311Service(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class Open311Value(BaseModel):
    key: str
    name: str


class Open311Attribute(BaseModel):
    variable: bool
    code: str
    datatype: str
    required: bool
    datatype_description: str
    order: int
    description: str
    values: list[Open311Value] = Field(default_factory=list)


class Open311Definition(BaseModel):
    service_code: str
    attributes: list[Open311Attribute]


class Open311Request(BaseModel):
    """A service request as GeoReport v2 shows it; the finer state is in ``status_notes`` (and
    in ``extended_attributes`` when asked for). Fields without a value are left out, not sent
    empty (strict date and URL parsers refuse an empty string)."""

    model_config = ConfigDict(populate_by_name=True)

    service_request_id: str
    status: str
    status_notes: str
    service_name: str
    service_code: str
    description: str
    agency_responsible: str
    service_notice: str
    requested_datetime: str
    updated_datetime: str
    expected_datetime: str | None = None
    address: str
    address_id: str
    zipcode: str
    lat: float | None
    long: float | None
    media_url: str | None = None
    extended_attributes: dict[str, Any] | None = None


class AnswerIn(BaseModel):
    """A standard answer as a keeper writes it."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=2, max_length=200)
    question: str = Field("", max_length=2000, description="How citizens ask it")
    answer: str = Field(min_length=2, max_length=8000)
    keywords: list[str] = Field(default_factory=list)
    category_code: str = Field("", max_length=12)
    unit_code: str = Field("", max_length=40, description="The unit that stands behind it")
    source: str = Field("", max_length=300, description="The policy or notice it rests on")
    active: bool = True


class AnswerRead(AnswerIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: int
    uses: int
    updated_by: str
    updated_at: datetime


class AnswerHit(BaseModel):
    answer: AnswerRead
    score: float
