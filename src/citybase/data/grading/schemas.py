from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from citybase.core.bus.schemas import Event


class Level(StrEnum):
    """Levels of GB/T 43697-2024, with 一般数据 in four sub-levels (4 the most sensitive)."""

    core = "core"  # 核心数据
    important = "important"  # 重要数据
    general_4 = "general_4"  # 一般数据 4 级: sensitive personal information
    general_3 = "general_3"  # 一般数据 3 级: personal information
    general_2 = "general_2"  # 一般数据 2 级: organisations' non-public information
    general_1 = "general_1"  # 一般数据 1 级: may be public

    @property
    def rank(self) -> int:
        return len(Level) - list(Level).index(self)


class Domain(StrEnum):
    """行业领域 (GB/T 43697-2024 §5)."""

    public_administration = "public_administration"  # 政务
    transport = "transport"  # 交通运输
    health = "health"  # 卫生健康
    education = "education"  # 教育
    natural_resources = "natural_resources"  # 自然资源
    finance = "finance"  # 金融
    industry = "industry"  # 工业
    telecom = "telecom"  # 电信
    energy = "energy"  # 能源
    social_security = "social_security"  # 社会保障
    urban = "urban"  # 城乡建设
    ecology = "ecology"  # 生态环境
    other = "other"  # 其他


class Finding(BaseModel):
    """What one recognizer found in one data item."""

    item: str
    kind: str = Field(description="citizen_id, mobile, bank_card, credit_code, name, address")
    by_name: bool = Field(description="The item's name or data element says so")
    matches: int = Field(description="Sample values in which it was found, check character valid")
    checked: int = Field(description="Sample values looked at")
    examples: list[str] = Field(description="Masked examples")


class ScanRequest(BaseModel):
    domain: Domain = Domain.public_administration
    business: str = Field("", max_length=100, description="业务属性, e.g. 户籍管理")
    rows: list[dict[str, str | int | float | None]] = Field(
        default_factory=list, max_length=10_000, description="Sample rows: item name → value"
    )


class Violation(BaseModel):
    field: str
    message: str


class GradingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    resource_code: str
    domain: Domain
    business: str
    proposed_level: Level
    reasons: list[str]
    findings: list[Finding]
    sample_rows: int
    scanned_by: str
    scanned_at: datetime
    level: Level | None
    decided_by: str
    decision_reason: str
    decided_at: datetime | None
    violations: list[Violation] = Field(
        default_factory=list, description="What the resource's share and open types break now"
    )


class Decision(BaseModel):
    level: Level
    reason: str = Field(
        "", max_length=2000, description="Required when it differs from the proposal"
    )


class GradingChanged(Event):
    """A resource's proposed or decided level changed."""

    topic: ClassVar[str] = "data.grading.changed"

    code: str
    level: str  # the level in force: the decision, else the proposal
