from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from citybase.core.bus.schemas import Event
from citybase.core.values import DateTime, NonNegativeInt64
from citybase.data.grading.schemas import Level


class RequestStatus(StrEnum):
    pending = "pending"  # 待审核
    granted = "granted"  # 已授权
    refused = "refused"  # 未同意
    withdrawn = "withdrawn"  # 已撤回
    sandboxed = "sandboxed"  # 以沙箱方式答复: a privacy-budget grant instead of rows


class GrantState(StrEnum):
    in_force = "in_force"  # 有效
    expired = "expired"  # 已到期
    revoked = "revoked"  # 已撤销


class RequestCreate(BaseModel):
    resource_code: str
    purpose: str = Field(min_length=4, max_length=2000, description="What the data is for")
    legal_basis: str = Field(min_length=2, max_length=2000, description="依据: the law or duty")
    fields: list[str] = Field(min_length=1, description="The data items needed")
    days: int = Field(365, ge=1, le=1095, description="For how long")
    api_key_ids: list[int] = Field(
        default_factory=list, description="The systems (one's own API keys) that will read"
    )


class RequestRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: str
    resource_code: str
    provider_unit_code: str
    consumer_unit_code: str
    requested_by: str
    purpose: str
    legal_basis: str
    fields: list[str]
    days: int
    api_key_ids: list[int]
    status: RequestStatus
    created_at: datetime
    decided_by: str
    decided_at: datetime | None
    reason: str
    sandbox_grant_id: int | None = Field(
        None, description="Answered in the privacy sandbox (以沙箱方式答复): the grant made"
    )


class Decision(BaseModel):
    approve: bool
    reason: str = Field("", max_length=2000)
    fields: list[str] | None = Field(None, description="Fewer fields than asked, if so decided")
    days: int | None = Field(None, ge=1, le=1095, description="Fewer days than asked")


class GrantRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    request_number: str = ""
    resource_code: str
    provider_unit_code: str
    consumer_unit_code: str
    fields: list[str]
    api_key_ids: list[int]
    granted_at: datetime
    valid_until: datetime
    revoked_at: datetime | None
    revoked_by: str
    revoke_reason: str
    state: GrantState = GrantState.in_force


class Revocation(BaseModel):
    reason: str = Field(min_length=2, max_length=2000)


class GrantChanged(Event):
    topic: ClassVar[str] = "data.sharing.grant.changed"

    grant_id: int
    resource_code: str
    consumer_unit_code: str
    what: str  # granted, revoked


# --- traced reads ------------------------------------------------------------------------------


class Refusal(StrEnum):
    """Why a read of shared data was refused; each is on the ledger."""

    no_resource = "no_resource"
    not_permitted = "not_permitted"
    own_data = "own_data"
    no_unit = "no_unit"
    no_grant = "no_grant"
    grant_expired = "grant_expired"
    grant_revoked = "grant_revoked"
    key_not_granted = "key_not_granted"
    foreign_key = "foreign_key"
    field_not_granted = "field_not_granted"
    case_number_required = "case_number_required"
    case_number_invalid = "case_number_invalid"
    end_user_required = "end_user_required"
    bad_query = "bad_query"
    purpose_required = "purpose_required"
    basis_refused = "basis_refused"  # the basis's own domain refused it (a contract's policy…)
    not_shared = "not_shared"  # the catalog says the resource is not shared (不予共享)

    @property
    def status(self) -> int:
        if self in (Refusal.no_resource,):
            return 404
        if self in (
            Refusal.case_number_required, Refusal.case_number_invalid,
            Refusal.end_user_required, Refusal.bad_query, Refusal.purpose_required,
        ):  # fmt: skip
            return 422
        return 403


class ReadContext(BaseModel):
    """Who reads, for whom and why, from the request's headers (as X-Road's user and issue
    headers): the end user behind a system, the case, the purpose of this read, and the unit
    the caller says it acts for."""

    end_user: str = Field("", max_length=100)
    case_number: str = Field("", max_length=80)
    purpose: str = Field("", max_length=500)
    client_unit: str = Field("", max_length=40)


CONSENT = "consent"  # a Basis's kind: the data subject's consent (申请人授权)


@dataclass(frozen=True)
class Basis:
    """A legal basis for a read that is not a sharing grant — a product contract (数据产品合同),
    later a sandbox release or an applicant's consent — handed to the one traced read by the
    domain that holds it. That domain has already decided the read may happen (the contract is
    in force, its policy permits this delivery); the read still checks the fields, masks by
    grade, and leaves the same trace as a read under a grant.

    ``kind`` names what the basis is (``contract``…) and ``ref`` which one (the contract's
    number); both go on the ledger and in the access log. ``fields`` are the data items the
    basis covers (none named: every data item of the resource); ``mask_level``, when given, masks at least as hard as that level's policy
    (never softer than the resource's own grade). ``consumer`` is who receives the rows (a
    unit's or an operator's code), when not the reader's own unit. ``action`` is the ledger's
    action for the delivery; ``in_clear``: the data subject's own values delivered under its
    consent (a one-thing application's pre-fill), served without masking. Under a basis of kind
    ``consent`` a resource the catalog does not share (不予共享) is refused."""

    kind: str
    ref: str
    legal_basis: str
    fields: tuple[str, ...]
    purpose: str
    consumer: str = ""
    mask_level: Level | None = None
    action: str = "products.delivery"
    # the data subject's own values, delivered under its consent (申请人授权) to the units that
    # handle its application: served unmasked — masking shields a subject from others, not
    # from the units it asks to act on its data — and traced all the same
    in_clear: bool = False


class Outcome(StrEnum):
    allowed = "allowed"
    refused = "refused"


class AccessRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    outcome: Outcome
    refusal: str
    message: str
    operation: str
    resource_code: str
    provider_unit_code: str
    consumer_unit_code: str
    username: str
    api_key_id: int | None
    end_user: str
    purpose: str
    legal_basis: str
    case_number: str
    grant_id: int | None
    fields: list[str]
    query: dict[str, Any]
    rows: int
    subjects: int
    ledger_seq: int


class AccessFilter(BaseModel):
    resource: str | None = None
    provider: str | None = None
    consumer: str | None = None
    user: str | None = Field(None, description="The account or the end user named in the header")
    case_number: str | None = None
    outcome: Outcome | None = None
    since: DateTime | None = None
    until: DateTime | None = None
    subject: str | None = Field(
        None, description="A citizen ID or credit code: the reads that served that subject's rows"
    )
    limit: int = Field(50, ge=1, le=500)
    offset: NonNegativeInt64 = 0


class AccessPage(BaseModel):
    total: int
    accesses: list[AccessRead]


class SharedPage(BaseModel):
    """Rows served under a grant (or another basis), masked as the resource's level demands."""

    grant_id: int | None = Field(description="The grant served under; none under another basis")
    basis_kind: str = Field("grant", description="What the rows were served under")
    basis_ref: str = Field("", description="Which one: the grant's id, the contract's number…")
    resource_code: str
    level: str
    masked: dict[str, str] = Field(description="Field → the masking applied to it")
    total: int
    rows: list[dict[str, Any]]
    access_id: int


class AccessSummary(BaseModel):
    """Reads of one resource (for its provider) or by one unit, grouped by the other side."""

    unit_code: str
    resource_code: str
    allowed: int
    refused: int
    rows: int
    last_at: datetime


# --- the demand list ---------------------------------------------------------------------------


class DemandStatus(StrEnum):
    open = "open"  # 待响应
    answered = "answered"  # 已响应
    matched = "matched"  # 已对接（转为共享申请）
    closed = "closed"  # 已关闭


class AnswerKind(StrEnum):
    offer = "offer"  # 有此数据：提供资源
    planned = "planned"  # 计划采集
    unavailable = "unavailable"  # 无此数据


class DemandCreate(BaseModel):
    title: str = Field(min_length=2, max_length=200)
    description: str = Field(min_length=4, max_length=4000, description="What data is needed")
    purpose: str = Field(min_length=4, max_length=2000)
    legal_basis: str = Field(min_length=2, max_length=2000)
    items: list[str] = Field(default_factory=list, description="Data items wanted, in words")
    provider_unit_code: str = Field("", description="The unit believed to hold it, if known")


class AnswerCreate(BaseModel):
    kind: AnswerKind
    resource_code: str = Field("", description="For an offer: the resource that meets it")
    message: str = Field("", max_length=2000)


class AnswerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    provider_unit_code: str
    answered_by: str
    answered_at: datetime
    kind: AnswerKind
    resource_code: str
    message: str


class DemandRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: str
    consumer_unit_code: str
    posted_by: str
    title: str
    description: str
    purpose: str
    legal_basis: str
    items: list[str]
    provider_unit_code: str
    status: DemandStatus
    request_number: str
    created_at: datetime
    answers: list[AnswerRead] = Field(default_factory=list)


class DemandMatch(BaseModel):
    """Turn an offer into a share request (供需对接)."""

    answer_id: int
    fields: list[str] = Field(min_length=1)
    days: int = Field(365, ge=1, le=1095)
    api_key_ids: list[int] = Field(default_factory=list)
