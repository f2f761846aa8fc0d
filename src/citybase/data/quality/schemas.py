from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from citybase.core.bus.schemas import Event


class RuleKind(StrEnum):
    not_null = "not_null"  # 非空
    unique = "unique"  # 唯一
    pattern = "pattern"  # 格式（正则）
    value_set = "value_set"  # 值域（枚举）
    range = "range"  # 取值范围
    check_chars = "check_chars"  # 校验位（身份证号、信用代码、银行卡号）
    reference = "reference"  # 参照另一资源的数据项


CHECKABLE = ("citizen_id", "credit_code", "bank_card")


class RuleCreate(BaseModel):
    item: str
    kind: RuleKind
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="pattern: {regex}; value_set: {values}; range: {min, max}; "
        "check_chars: {code: citizen_id|credit_code|bank_card}; reference: {resource, item}",
    )


class RuleRead(RuleCreate):
    model_config = ConfigDict(from_attributes=True)

    id: int
    resource_code: str
    created_by: str
    created_at: datetime
    active: bool


class RuleResult(BaseModel):
    rule_id: int
    item: str
    kind: RuleKind
    checked: int
    failed: int
    examples: list[dict[str, Any]] = Field(description="Up to five failing rows: row and value")


class RunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    resource_code: str
    run_at: datetime
    run_by: str
    rows: int
    checks: int
    failures: int
    score: float = Field(description="Checks passed, in percent")
    item_scores: dict[str, float]
    results: list[RuleResult]


class TrendPoint(BaseModel):
    run_at: datetime
    score: float


class ResourceQuality(BaseModel):
    resource_code: str
    rules: int
    last: RunRead | None
    trend: list[TrendPoint]
    open_disputes: int


class DisputeStatus(StrEnum):
    open = "open"  # 待处理
    corrected = "corrected"  # 已更正
    answered = "answered"  # 已答复（未更正，附说明）
    withdrawn = "withdrawn"  # 已撤回


class DisputeCreate(BaseModel):
    resource_code: str
    item: str = Field("", description="The data item disputed (empty: the row as a whole)")
    row_filter: dict[str, Any] = Field(
        default_factory=dict, description="Which row: column → value, as in a rows filter"
    )
    description: str = Field(min_length=4, max_length=4000)
    proposed_value: str = Field("", max_length=2000)


class DisputeAnswer(BaseModel):
    corrected: bool
    response: str = Field(min_length=2, max_length=4000)


class DisputeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: str
    resource_code: str
    provider_unit_code: str
    consumer_unit_code: str
    raised_by: str
    item: str
    row_filter: dict[str, Any]
    description: str
    proposed_value: str
    deadline: datetime
    status: DisputeStatus
    response: str
    responded_by: str
    responded_at: datetime | None
    created_at: datetime
    overdue: bool = False
    seen_by_consumer: bool


class DisputeAnswered(Event):
    """The provider answered a dispute: the consumer is told."""

    topic: ClassVar[str] = "data.quality.dispute.answered"

    number: str
    resource_code: str
    consumer_unit_code: str
    corrected: bool
