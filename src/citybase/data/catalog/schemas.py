from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from citybase.core.bus.schemas import Event
from citybase.core.values import NonNegativeInt64


class Category(StrEnum):
    """类: the first level of the catalog's classification."""

    base = "1"  # 基础信息资源
    theme = "2"  # 主题信息资源
    department = "3"  # 部门信息资源


class ShareType(StrEnum):
    unconditional = "unconditional"  # 无条件共享
    conditional = "conditional"  # 有条件共享
    none = "none"  # 不予共享


class OpenType(StrEnum):
    unconditional = "unconditional"  # 无条件开放
    conditional = "conditional"  # 有条件开放
    none = "none"  # 不予开放


class UpdateCycle(StrEnum):
    realtime = "realtime"
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"
    quarterly = "quarterly"
    yearly = "yearly"
    irregular = "irregular"


class ResourceFormat(StrEnum):
    database = "database"  # 数据库
    spreadsheet = "spreadsheet"  # 电子表格
    document = "document"  # 电子文件
    image = "image"  # 图形图像
    stream = "stream"  # 流媒体
    api = "api"  # 接口


class DataType(StrEnum):
    string = "string"  # 字符型
    integer = "integer"  # 整数型
    decimal = "decimal"  # 数值型
    date = "date"  # 日期型
    datetime = "datetime"  # 日期时间型
    boolean = "boolean"  # 布尔型
    binary = "binary"  # 二进制


class BaseLibrary(StrEnum):
    """The five base libraries (基础库)."""

    population = "population"  # 人口
    legal_person = "legal_person"  # 法人
    geo = "geo"  # 自然资源和空间地理
    credit = "credit"  # 社会信用
    license = "license"  # 电子证照


class Status(StrEnum):
    """draft → submitted → reviewed → registered → published (登记流程)."""

    draft = "draft"
    submitted = "submitted"
    reviewed = "reviewed"
    registered = "registered"
    published = "published"


CLASSIFICATION = re.compile(r"^[1-3]\d{2}\d{3}[0-9A-Za-z]{0,20}$")


class DataItemBase(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="信息项名称")
    data_type: DataType
    length: int | None = Field(None, ge=1, le=100_000)
    meaning: str = Field("", max_length=2000, description="What the item holds.")
    element: str = Field("", max_length=100, description="The data element (数据元) it follows.")


class DataItemRead(DataItemBase):
    model_config = ConfigDict(from_attributes=True)


class ResourceBase(BaseModel):
    name: str = Field(min_length=2, max_length=200)
    abstract: str = Field(min_length=10, max_length=4000, description="信息资源摘要")
    format: ResourceFormat
    share_type: ShareType
    share_condition: str = Field("", max_length=2000)
    share_method: str = Field("", max_length=40, description="e.g. 接口, 库表, 文件")
    open_type: OpenType
    open_condition: str = Field("", max_length=2000)
    update_cycle: UpdateCycle
    related_codes: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    theme_tags: list[str] = Field(default_factory=list, description="Theme libraries (主题库)")
    base_tags: list[BaseLibrary] = Field(
        default_factory=list, description="Base libraries (基础库)"
    )
    items: list[DataItemBase] = Field(min_length=1, description="信息项")

    @field_validator("items")
    @classmethod
    def _unique_items(cls, items: list[DataItemBase]) -> list[DataItemBase]:
        seen: set[str] = set()
        for item in items:
            if item.name in seen:
                raise ValueError(f"data item {item.name} appears twice")
            seen.add(item.name)
        return items

    @model_validator(mode="after")
    def _conditions(self) -> ResourceBase:
        if self.share_type is ShareType.conditional and not self.share_condition.strip():
            raise ValueError("a conditionally shared resource needs its share condition")
        if self.open_type is OpenType.conditional and not self.open_condition.strip():
            raise ValueError("a conditionally open resource needs its open condition")
        return self


class ResourceCreate(ResourceBase):
    classification: str = Field(
        description="分类码: 类 (1 digit: 1 基础, 2 主题, 3 部门), 项 (2), 目 (3), then 细目 if any",
        examples=["301001"],
    )
    provider_unit_code: str

    @field_validator("classification")
    @classmethod
    def _classification(cls, value: str) -> str:
        if not CLASSIFICATION.match(value):
            raise ValueError("类 (1–3), 项 (2 digits), 目 (3 digits), then up to 20 for 细目")
        return value


class ResourceUpdate(BaseModel):
    name: str | None = Field(None, min_length=2, max_length=200)
    abstract: str | None = Field(None, min_length=10, max_length=4000)
    format: ResourceFormat | None = None
    share_type: ShareType | None = None
    share_condition: str | None = None
    share_method: str | None = None
    open_type: OpenType | None = None
    open_condition: str | None = None
    update_cycle: UpdateCycle | None = None
    related_codes: list[str] | None = None
    keywords: list[str] | None = None
    theme_tags: list[str] | None = None
    base_tags: list[BaseLibrary] | None = None
    items: list[DataItemBase] | None = Field(None, min_length=1)
    note: str = Field("", max_length=500, description="Why it changed (kept with the version).")


class ResourceRead(ResourceBase):
    id: int
    code: str
    classification: str
    category: Category
    provider_unit_code: str
    provider_unit_name: str
    region_code: str
    status: Status
    version: int
    publish_date: date | None
    created_at: datetime
    updated_at: datetime
    items: list[DataItemRead]  # type: ignore[assignment]


class ResourceSummary(BaseModel):
    code: str
    name: str
    provider_unit_code: str
    region_code: str
    share_type: ShareType
    open_type: OpenType
    status: Status
    version: int
    updated_at: datetime


class ResourcePage(BaseModel):
    total: int
    resources: list[ResourceSummary]


class VersionRead(BaseModel):
    version: int
    changed_by: str
    changed_at: datetime
    note: str


class FieldChange(BaseModel):
    field: str
    before: Any
    after: Any


class VersionDiff(BaseModel):
    code: str
    from_version: int
    to_version: int
    changes: list[FieldChange]
    items_added: list[str]
    items_removed: list[str]
    items_changed: list[FieldChange]


class Transition(BaseModel):
    reason: str = Field("", max_length=2000, description="Why; required to return a resource.")


class ResourceFilter(BaseModel):
    q: str = ""
    unit: str | None = None
    region: str | None = None
    subregions: bool = True
    status: Status | None = None
    share_type: ShareType | None = None
    open_type: OpenType | None = None
    base: BaseLibrary | None = None
    theme: str | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: NonNegativeInt64 = 0


class ResourceChanged(Event):
    topic: ClassVar[str] = "data.catalog.resource.changed"

    code: str
    status: str
    version: int
    what: str  # created, updated, submitted, returned, reviewed, registered, published, revised


class ImportProblem(BaseModel):
    sheet: str
    row: int = Field(description="Row number as the spreadsheet shows it (the header is row 1)")
    column: str
    message: str


class ImportReport(BaseModel):
    rows: int
    created: list[str] = Field(default_factory=list, description="Codes of the new drafts")
    problems: list[ImportProblem] = Field(default_factory=list)
    applied: bool = False
