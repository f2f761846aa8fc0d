"""What the sandbox takes and gives: declarations, grants of privacy budget, queries (a small SQL
dialect, or the same as structured JSON) and their answers with cost and accuracy."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

Name = Annotated[str, Field(min_length=1, max_length=100)]
Key = Annotated[str, Field(max_length=200)]
MICRO = 1_000_000  # ε is kept in millionths
PICO = 10**12  # δ is kept in 10^-12
MAX_DELTA = 1e-3  # δ of a query or a grant's period at most (δ far below 1 / people)


def to_micro(epsilon: float) -> int:
    return round(epsilon * MICRO)


def from_micro(micro: int) -> float:
    return micro / MICRO


def to_pico(delta: float) -> int:
    return round(delta * PICO)


def from_pico(pico: int) -> float:
    return pico / PICO


class Bounds(BaseModel):
    """The range a numeric column's values are clipped to: public, declared by the steward."""

    lower: float = Field(ge=-1e12, le=1e12)
    upper: float = Field(ge=-1e12, le=1e12)

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if self.upper <= self.lower:
            raise ValueError("upper must be greater than lower")
        return self


class PrivacyUnit(StrEnum):
    person = "person"  # the base library's person id where a row is linked, else the identifier
    identifier = "identifier"  # the identifier column alone


class DeclarationBase(BaseModel):
    identifier: Name = Field(
        description="The column that tells one person's rows apart (the privacy unit)"
    )
    max_rows_per_person: int = Field(
        ge=1, le=1000, description="Contribution bound: rows of one person a query may use"
    )
    categorical: dict[Name, Annotated[list[Key], Field(min_length=1, max_length=500)]] = Field(
        default_factory=dict, max_length=30,
        description="Columns one may group and filter by, with their public values (keys)",
    )  # fmt: skip
    numeric: dict[Name, Bounds] = Field(
        default_factory=dict, max_length=30,
        description="Columns one may sum, average and filter by, with their bounds",
    )  # fmt: skip
    privacy_unit: PrivacyUnit = Field(
        PrivacyUnit.person,
        description="What the contribution bound is per: the base library's person id (一人一档) "
        "where a row is linked to a person file, else the identifier (person); or the identifier "
        "column alone (identifier)",
    )  # fmt: skip


class DeclarationCreate(DeclarationBase):
    pass


class DeclarationRead(DeclarationBase):
    resource_code: str
    provider_unit_code: str
    declared_by: str
    updated_at: datetime
    masking: dict[str, str] = Field(
        default_factory=dict,
        description="How the resource's grade masks each declared column before the computation",
    )
    theme_library: str = Field(
        "", description="The theme library (主题库) this resource is the catalog entry of, if any"
    )


class Period(StrEnum):
    month = "month"
    year = "year"


class GrantState(StrEnum):
    in_force = "in_force"
    revoked = "revoked"
    expired = "expired"


class GrantCreate(BaseModel):
    resource_code: str = Field(min_length=1, max_length=60)
    unit_code: str = Field(min_length=1, max_length=40, description="The analysts' unit")
    username: str = Field("", max_length=100, description="One user of that unit; empty: any")
    epsilon: float = Field(gt=0, le=100, description="Privacy budget (ε) per period")
    delta: float = Field(0.0, ge=0, le=MAX_DELTA, description=(
        "Budget of δ per period for (ε, δ)-DP queries (Gaussian noise); 0: pure ε-DP only"
    ))  # fmt: skip
    period: Period = Period.month
    purpose: str = Field(min_length=2, max_length=500)
    legal_basis: str = Field(min_length=2, max_length=500)
    valid_until: date | None = None


class GrantRead(BaseModel):
    id: int
    resource_code: str
    unit_code: str
    username: str
    epsilon: float
    period: Period
    purpose: str
    legal_basis: str
    valid_until: date | None
    granted_by: str
    created_at: datetime
    state: GrantState
    revoked_at: datetime | None
    revoked_by: str
    revoke_reason: str
    share_request: str = Field("", description="The share request it answers, if any")
    period_key: str = Field(description="The current period (2026-12, or 2026)")
    spent: float = Field(description="ε spent in the current period")
    remaining: float = Field(description="ε left in the current period")
    delta: float = Field(0.0, description="δ per period (0: pure ε-DP only)")
    delta_spent: float = Field(0.0, description="δ spent in the current period")
    delta_remaining: float = Field(0.0, description="δ left in the current period")


class ShareAnswer(BaseModel):
    """A share request answered in the sandbox (以沙箱方式答复): a privacy budget on the
    requested resource for the requesting unit, instead of rows."""

    epsilon: float = Field(gt=0, le=100, description="Privacy budget (ε) per period")
    period: Period = Period.month
    valid_until: date | None = None
    reason: str = Field("", max_length=500, description="What the requester is told")


class ShareAnswerRead(BaseModel):
    number: str = Field(description="The share request answered")
    status: str = Field(description="sandboxed (以沙箱方式答复)")
    grant: GrantRead


class Revocation(BaseModel):
    reason: str = Field(min_length=2, max_length=500)


class Aggregate(StrEnum):
    count_ = "count"  # (count is a method of str)
    sum = "sum"
    avg = "avg"
    quantile = "quantile"


class Op(StrEnum):
    eq = "="
    ne = "!="
    lt = "<"
    le = "<="
    gt = ">"
    ge = ">="
    in_ = "in"


Value = str | float


class Measure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agg: Aggregate
    column: str | None = Field(None, max_length=100, description="None for count")
    q: float | None = Field(None, gt=0, lt=1, description="quantile: which (0.5 is the median)")
    label: str = Field("", max_length=100)

    def title(self) -> str:
        if self.label:
            return self.label
        if self.agg is Aggregate.count_:
            return "COUNT(*)"
        if self.agg is Aggregate.quantile:
            return f"QUANTILE({self.column}, {self.q})"
        return f"{self.agg.value.upper()}({self.column})"


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str = Field(max_length=100)
    op: Op
    value: Value | list[Value] = Field(description="A list for in")


class QuerySpec(BaseModel):
    """A query in structured form: what the SQL dialect is parsed into."""

    model_config = ConfigDict(extra="forbid")

    resource_code: str = Field(min_length=1, max_length=60)
    select: list[Measure] = Field(min_length=1, max_length=8)
    group_by: list[str] = Field(default_factory=list, max_length=2)
    where: list[Condition] = Field(default_factory=list, max_length=8)


class QueryCreate(BaseModel):
    """A query: ``sql`` in the sandbox's dialect, or ``query`` in structured form (one of them),
    and the privacy loss (ε) it may spend."""

    model_config = ConfigDict(extra="forbid")

    sql: str | None = Field(None, min_length=1, max_length=4000)
    query: QuerySpec | None = None
    epsilon: float = Field(gt=0, le=10, description="ε this query spends of the budget")
    delta: float = Field(0.0, ge=0, le=MAX_DELTA, description=(
        "δ this query spends: above 0, counts, sums and averages get Gaussian noise, (ε, δ)-DP"
    ))  # fmt: skip

    @model_validator(mode="after")
    def _one_form(self) -> QueryCreate:
        if (self.sql is None) == (self.query is None):
            raise ValueError("give either sql or query, not both and not neither")
        return self


class QueryStatus(StrEnum):
    answered = "answered"
    refused = "refused"


class Accuracy(BaseModel):
    """OpenDP's accuracy of one released statistic: at 95 % confidence (alpha 0.05) the released
    value differs from the true one by no more than ``accuracy``."""

    column: str
    statistic: str
    distribution: str
    scale: float
    accuracy: float | None


class Answer(BaseModel):
    columns: list[str] = Field(default_factory=list)
    rows: list[dict[str, Any]] = Field(default_factory=list)
    accuracy: list[Accuracy] = Field(default_factory=list)
    alpha: float = 0.05
    epsilon_spent: float = Field(0.0, description="OpenDP's privacy map of the measurement")
    delta_spent: float = Field(0.0, description="δ of (ε, δ)-DP: 0 unless Gaussian noise")
    rho_spent: float | None = Field(None, description="ρ (zCDP) of the Gaussian noise, if any")


class QueryRead(BaseModel):
    id: int
    created_at: datetime
    username: str
    unit_code: str
    resource_code: str
    grant_id: int | None
    form: str
    text: str
    epsilon: float
    delta: float = 0.0
    status: QueryStatus
    rule: str
    message: str
    answer: Answer | None
    access_id: int | None
    remaining: float | None = Field(None, description="ε left in the grant's period after it")
