from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from citybase.core.bus.schemas import Event
from citybase.core.codes import is_credit_code


class RegionLevel(StrEnum):
    """Levels of the administrative tree, top down."""

    city = "city"  # 市
    district = "district"  # 区/县/县级市/功能区
    street = "street"  # 街道/镇/乡
    community = "community"  # 社区/村
    grid = "grid"  # 网格

    @property
    def depth(self) -> int:
        return list(RegionLevel).index(self)


# Official division codes: 6 digits down to county, 9 for street/town, 12 for community/village.
OFFICIAL_CODE_LENGTH = {
    RegionLevel.city: 6,
    RegionLevel.district: 6,
    RegionLevel.street: 9,
    RegionLevel.community: 12,
}
CODE_PATTERN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{1,19}$")
UNIT_CODE_PATTERN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.-]{1,39}$")


class RegionBase(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    kind: str = Field("", max_length=20, description="市辖区, 县, 县级市, 功能区, 街道, 镇, 社区 …")
    sort_order: int = 0


class RegionCreate(RegionBase):
    code: str = Field(description="Division code (行政区划代码), or a local code if not official.")
    level: RegionLevel
    parent_code: str | None = None
    official: bool = Field(True, description="Whether the code is an official division code.")

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not CODE_PATTERN.match(value):
            raise ValueError("2–20 letters, digits, _ or -")
        return value


class RegionUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=100)
    kind: str | None = Field(None, max_length=20)
    sort_order: int | None = None


class RegionRead(RegionBase):
    model_config = ConfigDict(from_attributes=True)

    code: str
    level: RegionLevel
    parent_code: str | None
    official: bool


class RegionDetail(RegionRead):
    path: list[RegionRead] = Field(description="Ancestors from the top down.")
    children: list[RegionRead]


class RegionOption(BaseModel):
    """One region as a picker offers it: its code, name and level."""

    code: str
    name: str
    level: RegionLevel


class RegionPicker(BaseModel):
    """What a region picker (区县 ▸ 街道 ▸ 社区 ▸ 网格) needs: every region from ``levels[0]`` down
    to ``levels[-1]`` in tree order with its depth (the plain list a page without script shows),
    and the path down to the chosen region (what the cascade starts from)."""

    options: list[tuple[RegionOption, int]]
    path: list[str]
    levels: list[RegionLevel]


class UnitKind(StrEnum):
    department = "department"  # 政府工作部门
    agency = "agency"  # 直属机构/事业单位
    service_center = "center"  # 中心
    party = "party"  # 党委部门
    district_government = "district_government"  # 区县政府
    enterprise = "enterprise"  # 国有企业（市属国企等承担规划任务的企业）


def _credit_code(value: str | None) -> str | None:
    """Blank means none; otherwise upper-cased and checked against GB 32100."""
    if value is None or not value.strip():
        return None
    value = value.strip().upper()
    if not is_credit_code(value):
        raise ValueError("not a valid unified social credit code (GB 32100 check failed)")
    return value


class UnitBase(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    short_name: str = Field("", max_length=100)
    kind: UnitKind = UnitKind.department
    credit_code: str | None = Field(
        None, description="Unified social credit code (统一社会信用代码, GB 32100)."
    )

    _check_credit_code = field_validator("credit_code")(_credit_code)


class UnitCreate(UnitBase):
    code: str = Field(description="The platform's code for the unit, e.g. fz.bigdata")
    region_code: str
    counterpart_code: str | None = Field(
        None, description="The unit's counterpart at the level above (上级对口单位)."
    )

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not UNIT_CODE_PATTERN.match(value):
            raise ValueError("2–40 letters, digits, _ . or -")
        return value


class UnitUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    short_name: str | None = Field(None, max_length=100)
    kind: UnitKind | None = None
    credit_code: str | None = None
    region_code: str | None = None
    counterpart_code: str | None = None
    active: bool | None = None

    _check_credit_code = field_validator("credit_code")(_credit_code)


class UnitRead(UnitBase):
    id: int
    code: str
    region_code: str
    region_name: str
    counterpart_code: str | None
    counterpart_name: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


class ImportProblem(BaseModel):
    row: int = Field(description="1-based row number in the file (the header is row 1 in CSV).")
    field: str
    message: str


class ImportReport(BaseModel):
    kind: str
    rows: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[ImportProblem] = Field(default_factory=list)
    warnings: list[ImportProblem] = Field(
        default_factory=list, description="Imported all the same, but worth a look."
    )
    applied: bool = False


class UnitChanged(Event):
    topic: ClassVar[str] = "core.orgs.unit.changed"

    unit_code: str
    name: str
    region_code: str
    created: bool
    changes: list[str] = Field(default_factory=list)


class RegionChanged(Event):
    topic: ClassVar[str] = "core.orgs.region.changed"

    region_code: str
    name: str
    created: bool
