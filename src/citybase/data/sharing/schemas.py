from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from citybase.core.bus.schemas import Event


class RequestStatus(StrEnum):
    pending = "pending"  # 待审核
    granted = "granted"  # 已授权
    refused = "refused"  # 未同意
    withdrawn = "withdrawn"  # 已撤回


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
