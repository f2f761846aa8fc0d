from __future__ import annotations

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
    """A service request as GeoReport v2 shows it; the finer state is in ``status_notes``."""

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
    expected_datetime: str
    address: str
    address_id: str
    zipcode: str
    lat: float | None
    long: float | None
    media_url: str
