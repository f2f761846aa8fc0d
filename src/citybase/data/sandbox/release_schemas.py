"""What a de-identified micro-data release (去标识化数据发布, GB/T 37964) takes and gives: the
steward's declaration (quasi-identifiers with their generalisation hierarchies, the sensitive
column, k, l, the largest share of rows that may be suppressed, what becomes of the direct
identifiers), and the release with its report."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field

Name = Annotated[str, Field(min_length=1, max_length=100)]


class HierarchyKind(StrEnum):
    """How a quasi-identifier is generalised (泛化), level by level, up to ``*``."""

    date = "date"  # levels among month, year
    age = "age"  # levels: band widths in years, growing (5, 10, 20)
    region = "region"  # levels among street, district, city (the orgs' region tree)
    prefix = "prefix"  # levels: characters kept, shrinking (4, 2, 0)
    value = "value"  # no level but the value itself and *


class Hierarchy(BaseModel):
    """One quasi-identifier's generalisation hierarchy. Every hierarchy ends in ``*`` (the
    value suppressed in the column), which is not listed."""

    kind: HierarchyKind
    levels: list[str | int] = Field(
        default_factory=list, max_length=6,
        description="The levels above the value, finest first: month/year for a date, band "
        "widths for an age, street/district/city for a region, characters kept for a prefix",
    )  # fmt: skip


class IdentifierAction(StrEnum):
    """What becomes of a direct identifier (直接标识符): removed, or replaced by a keyed
    pseudonym that is the same for one person within this release and differs between
    releases."""

    remove = "remove"
    pseudonym = "pseudonym"


class ReleaseCreate(BaseModel):
    resource_code: Name
    title: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=2000)
    legal_basis: str = Field(min_length=1, max_length=2000)
    quasi_identifiers: dict[Name, Hierarchy] = Field(
        min_length=1, max_length=8,
        description="Quasi-identifiers (准标识符) with their generalisation hierarchies",
    )  # fmt: skip
    sensitive: Name | None = Field(
        None, description="The sensitive column (敏感属性) that l-diversity is declared on"
    )
    k: int = Field(ge=2, le=1000, description="The declared k of k-anonymity")
    l: int = Field(1, ge=1, le=100, description="The declared l of distinct l-diversity")  # noqa: E741
    max_suppression: float = Field(
        0.05, ge=0, le=0.5, description="The largest share of rows that may be suppressed (抑制)"
    )
    identifiers: dict[Name, IdentifierAction] = Field(
        default_factory=dict, max_length=20,
        description="Direct identifiers to pseudonymise; every other one is removed",
    )  # fmt: skip
    keep: list[Name] = Field(
        default_factory=list, max_length=50,
        description="Other columns released as they are served (no personal data)",
    )  # fmt: skip
    recipients: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list, max_length=100, description="Units the release is published to"
    )
    open_to_all: bool = Field(False, description="Published to every unit")


class ReleaseStatus(StrEnum):
    prepared = "prepared"  # waiting for review
    refused = "refused"  # the declared k (or l) was not reached within the suppression allowed
    approved = "approved"
    rejected = "rejected"
    published = "published"


class Review(BaseModel):
    approve: bool
    note: str = Field("", max_length=2000)


class Risk(BaseModel):
    """Re-identification risk (重标识风险) of the released records, against the base library's
    person files (一人一档): how many of them share each record's quasi-identifiers."""

    matched_on: dict[str, str] = Field(
        default_factory=dict, description="Quasi-identifier → the base library's field"
    )
    persons: int = Field(0, description="Person files in the base library")
    unique: int = Field(0, description="Released records matching exactly one person")
    absent: int = Field(0, description="Released records matching no person")
    prosecutor_risk: float = Field(
        0, description="Share of released records matching exactly one person"
    )
    highest: float = Field(0, description="1 / the fewest persons a released record matches")
    average: float = Field(0, description="Mean of 1 / the persons each released record matches")


class Report(BaseModel):
    """A release's report: what was declared and achieved, the information lost, the risk."""

    k: int
    l: int  # noqa: E741
    max_suppression: float
    achieved_k: int
    achieved_l: int | None = Field(description="None: no sensitive column, or no row released")
    rows_read: int
    rows_released: int
    rows_suppressed: int
    levels: dict[str, str] = Field(description="Quasi-identifier → the level it was generalised to")
    height: int = Field(description="Generalisation height: the levels climbed, summed")
    precision: float = Field(
        description="Sweeney's precision: 1 − the mean share of its hierarchy each value climbed"
    )
    discernibility: int = Field(
        description="Discernibility metric: Σ |class|² + suppressed rows × rows read"
    )
    classes: int = Field(description="Equivalence classes (等价类) in the released file")
    lattice: int = Field(description="Generalisations tried")
    identifiers: dict[str, str] = Field(default_factory=dict)
    risk: Risk = Field(default_factory=Risk)


class ReleaseRead(BaseModel):
    id: int
    resource_code: str
    provider_unit_code: str
    title: str
    purpose: str
    legal_basis: str
    spec: dict[str, Any]
    recipients: list[str]
    open_to_all: bool
    status: ReleaseStatus
    message: str
    report: Report | None
    columns: list[str]
    rows: int
    access_id: int | None
    prepared_by: str
    created_at: datetime
    reviewed_by: str
    reviewed_at: datetime | None
    review_note: str
    published_by: str
    published_at: datetime | None
    downloads: int
