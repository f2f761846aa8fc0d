from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

CODE = r"^\d{2}(\d{2}){0,2}$"
LEVELS = {1: "大类", 2: "小类", 3: "细类"}


class CategoryIn(BaseModel):
    """A category as a taxonomy file states it."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE, description="2 digits for 大类, 4 for 小类, 6 for 细类")
    name: str = Field(min_length=1, max_length=100)
    parent_code: str | None = Field(default=None, description="Its 大类 or 小类")
    description: str = ""
    keywords: list[str] = Field(default_factory=list)
    active: bool = True

    @field_validator("keywords", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.replace("，", ",").replace("、", ",").split(",")
                    if k.strip()]  # fmt: skip
        return value


class CategoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    level: int
    parent_code: str | None
    description: str
    keywords: list[str]
    sort_order: int
    active: bool


class Problem(BaseModel):
    row: int | None = Field(description="Line (YAML) or row (CSV, the header is row 1)")
    field: str
    message: str


class TaxonomyReport(BaseModel):
    file: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = Field(default_factory=list)
    applied: bool = False
