from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FieldKind(StrEnum):
    """What a data item holds, for masking: from the grading scan, the item's name and type."""

    citizen_id = "citizen_id"  # 公民身份号码
    bank_card = "bank_card"  # 银行卡号
    mobile = "mobile"  # 手机号码
    name = "name"  # 姓名
    address = "address"  # 地址
    birth_date = "birth_date"  # 出生日期
    age = "age"  # 年龄
    credit_code = "credit_code"  # 统一社会信用代码
    text = "text"  # free text, scanned for personal data
    other = "other"


class Operator(StrEnum):
    clear = "clear"  # 不脱敏
    keep = "keep"  # 保留首尾 n 位
    hash = "hash"  # 密钥哈希
    pseudonym = "pseudonym"  # 可逆假名（持密钥可还原）
    year = "year"  # 泛化：日期 → 年份
    district = "district"  # 泛化：地址 → 区县
    age_band = "age_band"  # 泛化：年龄 → 年龄段
    suppress = "suppress"  # 屏蔽
    redact = "redact"  # 识别并遮盖自由文本中的个人信息


class Rule(BaseModel):
    op: Operator
    first: int = Field(0, ge=0, le=32, description="keep: characters kept at the start")
    last: int = Field(0, ge=0, le=32, description="keep: characters kept at the end")

    def label(self) -> str:
        if self.op is Operator.keep:
            return f"keep {self.first}/{self.last}"
        return self.op.value


class PolicyRow(BaseModel):
    level: str
    kind: FieldKind
    rule: Rule
    default: bool = Field(description="The platform's default, not changed by the bureau")
    updated_by: str = ""
    updated_at: datetime | None = None


class PolicyChange(BaseModel):
    rule: Rule
    reason: str = Field(min_length=1, max_length=500)


class MaskedField(BaseModel):
    item: str
    kind: FieldKind
    rule: Rule


class MaskPlan(BaseModel):
    """How a resource's rows are masked: its level (or the policy used while it has none)."""

    resource_code: str
    level: str = Field(description="The level in force; empty if the resource was never graded")
    policy_level: str = Field(description="The level whose policy applies")
    fields: list[MaskedField]


class KReport(BaseModel):
    """k-anonymity of a set of rows over its quasi-identifiers (准标识符)."""

    quasi_identifiers: list[str]
    rows: int
    groups: int
    k: int = Field(
        description="The smallest group size: every row shares its quasi-identifiers "
        "with at least k-1 others (0 for no rows)"
    )
    below: int = Field(description="Rows in groups smaller than the threshold")
    threshold: int

    model_config = ConfigDict(frozen=True)


class Preview(BaseModel):
    plan: MaskPlan
    rows: list[dict[str, Any]]
    total: int
    k: KReport


class RedactRequest(BaseModel):
    text: str = Field(max_length=100_000)


class RedactResult(BaseModel):
    text: str
    found: dict[str, int] = Field(description="Personal data found, by kind")


class RevealRequest(BaseModel):
    pseudonym: str = Field(max_length=400)
    reason: str = Field(min_length=1, max_length=500)
    case_number: str = Field(min_length=1, max_length=80)


class RevealResult(BaseModel):
    value: str
