from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class SourceBase(BaseModel):
    data_kind: str = Field(min_length=2, max_length=100, description="e.g. 人口基本信息")
    unit_code: str = Field(description="The authoritative unit")
    elements: list[str] = Field(
        min_length=1, description="Data elements (or item names) that make this kind of data"
    )
    legal_basis: str = Field("", max_length=2000)


class SourceCreate(SourceBase):
    pass


class SourceRead(SourceBase):
    model_config = ConfigDict(from_attributes=True)

    id: int
    unit_name: str = ""


class Arbitration(StrEnum):
    """How a conflict is settled."""

    use_authoritative = "use_authoritative"  # the provider takes the data from the source
    exempt = "exempt"  # legitimately its own (e.g. collected in its own service), kept
    change_authority = "change_authority"  # the provider becomes the authoritative source


class ConflictRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    resource_code: str
    data_kind: str
    provider_unit_code: str
    authoritative_unit_code: str
    items: list[str]
    detected_at: datetime
    status: str
    decision: str
    decided_by: str
    reason: str
    decided_at: datetime | None


class ConflictDecision(BaseModel):
    decision: Arbitration
    reason: str = Field(min_length=2, max_length=2000)


class Overlap(BaseModel):
    """A data element provided by several units that the register does not yet cover."""

    element: str
    units: list[str]
    resources: list[str]
    proposed_unit: str = Field(description="Proposed authoritative source, with the reason below")
    why: str
