from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from citybase.data.catalog.schemas import DataType


class Severity(StrEnum):
    error = "error"  # blocks approval
    warning = "warning"  # worth fixing; does not block


class DataElement(BaseModel):
    """A data element (数据元): the agreed name, type, length and format of a kind of value."""

    name: str
    data_type: DataType
    length: int | None = Field(None, description="The length a value needs (fixed or at most)")
    fixed_length: bool = False
    format: str = Field("", description="What a value looks like, in words")
    check: str = Field("", description="The check a value must pass, if any")


class Issue(BaseModel):
    field: str = Field(description="The field at fault: name, items.2.data_type, related_codes …")
    rule: str = Field(description="completeness, code_format, data_element")
    severity: Severity
    message: str


class ResourceReview(BaseModel):
    code: str
    name: str
    provider_unit_code: str
    status: str
    errors: int
    warnings: int
    issues: list[Issue]


class CatalogReview(BaseModel):
    resources: int
    with_errors: int
    with_warnings: int
    errors: int
    warnings: int
    by_rule: dict[str, int]
    reviews: list[ResourceReview]
