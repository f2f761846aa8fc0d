from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from citybase.core.values import DateTime, NonNegativeInt64


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, and for which unit. ``system`` for the platform's own work."""

    name: str
    unit: str = ""

    @classmethod
    def system(cls, what: str = "system") -> Actor:
        return cls(name=what, unit="")


class LedgerEntryBase(BaseModel):
    action: str = Field(description="What was done, as a dotted verb: user.create, unit.update.")
    object_type: str = Field("", description="Kind of thing acted on: user, unit, api_key.")
    object_id: str = Field("", description="Identifier of the thing acted on.")
    reason: str = Field("", description="Why: a reason or the legal basis.")
    case_number: str = Field("", description="The case or document number the act belongs to.")
    details: dict[str, Any] = Field(default_factory=dict)


class LedgerEntryRead(LedgerEntryBase):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    recorded_at: datetime
    actor: str
    actor_unit: str
    prev_hash: str
    entry_hash: str
    leaf_hash: str


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    audit_path: list[str] = Field(
        description="Sibling hashes, leaf to root, hex (RFC 9162 §2.1.3)."
    )


class EntryWithProof(BaseModel):
    entry: LedgerEntryRead
    proof: InclusionProof


class ConsistencyProof(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


class SignedTreeHead(BaseModel):
    tree_size: int
    root_hash: str
    timestamp: datetime
    signature: str = Field(
        description="Ed25519 signature, hex, over the canonical JSON of the head."
    )
    key_id: str
    public_key: str


class LedgerFilter(BaseModel):
    actor: str | None = None
    unit: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: DateTime | None = None
    until: DateTime | None = None
    seqs: list[int] | None = Field(None, description="Only these entries (a data subject's)")
    limit: int = Field(50, ge=1, le=500)
    offset: NonNegativeInt64 = 0
