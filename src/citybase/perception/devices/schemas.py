from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from citybase.core.bus.schemas import Event

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")


class AttrType(StrEnum):
    number = "number"
    boolean = "boolean"
    text = "text"


class Protocol(StrEnum):
    http = "http"
    mqtt = "mqtt"
    ngsi_ld = "ngsi-ld"


class AttributeSpec(BaseModel):
    """One thing a device type measures."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
    label: str = Field("", max_length=100, description="What people call it: 水位")
    type: AttrType = AttrType.number
    unit: str = Field("", max_length=20, description="m, mm/h, μg/m³, km/h, °")
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _range(self) -> AttributeSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"{self.name}: min is above max")
        return self


class DeviceTypeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z][a-z0-9_.-]{0,39}$")
    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    attributes: list[AttributeSpec] = Field(min_length=1)
    offline_after_minutes: int = Field(15, ge=1, le=10080)

    @field_validator("attributes")
    @classmethod
    def _unique(cls, value: list[AttributeSpec]) -> list[AttributeSpec]:
        names = [a.name for a in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"attribute named twice: {', '.join(twice)}")
        return value


class DeviceTypeRead(DeviceTypeIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: int


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(description="Letters, digits and _ . : - ; unique in the city")
    name: str = Field("", max_length=200)
    type_code: str
    owner_unit: str = Field("", max_length=40)
    lon: float | None = Field(None, ge=73, le=136, description="WGS84 longitude")
    lat: float | None = Field(None, ge=3, le=54, description="WGS84 latitude")
    region_code: str = Field("", max_length=20)
    address: str = Field("", max_length=300)
    protocol: Protocol = Protocol.http
    active: bool = True

    @field_validator("device_id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not CODE.match(value):
            raise ValueError("use up to 100 letters, digits and _ . : - (starting with one of "
                             "the first two)")  # fmt: skip
        return value

    @model_validator(mode="after")
    def _where(self) -> DeviceIn:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        return self


class DeviceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    device_id: str
    name: str
    type_code: str
    owner_unit: str
    lon: float | None
    lat: float | None
    gcj02: tuple[float, float] | None = Field(
        description="The place on maps that use GCJ-02 (Chinese web maps), converted from WGS84"
    )
    region_code: str
    address: str
    protocol: Protocol
    active: bool
    last_seen_at: datetime | None
    online: bool


class DeviceCreated(DeviceRead):
    secret: str = Field(description="The device's credential, shown once: keep it on the device")


class ImportProblem(BaseModel):
    row: int
    field: str
    message: str


class ImportReport(BaseModel):
    created: int = 0
    updated: int = 0
    problems: list[ImportProblem] = Field(default_factory=list)
    secrets: dict[str, str] = Field(default_factory=dict,
                                    description="New devices' credentials, shown once")  # fmt: skip


class DeviceChanged(Event):
    """A device was registered, changed (retired, reactivated) or given a new credential: the
    broker's password and ACL files are written again from the register."""

    topic: ClassVar[str] = "perception.device.changed"

    device_id: str
    active: bool
    created: bool = False


class BrokerFiles(BaseModel):
    """Mosquitto's password file and ACL file, made from the device register."""

    passwords: str
    acl: str
    devices: int = Field(description="Devices that may log in")
    left_out: dict[str, str] = Field(description="Devices left out, and why")
