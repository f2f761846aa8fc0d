"""What a sandbox code job takes and gives: the job (SQL or Python over declared resources),
its outputs held until checked, and a steward's review of one."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field

K_MINIMUM = 10  # the least k a table's cells are checked against (k-匿名阈值)
Code = Annotated[str, Field(max_length=60)]


class Language(StrEnum):
    sql = "sql"
    python = "python"


class JobStatus(StrEnum):
    queued = "queued"  # waiting for the background worker
    running = "running"
    finished = "finished"
    cancelled = "cancelled"  # withdrawn by its analyst while queued
    refused = "refused"  # a guard stopped it, or it was refused before it ran
    failed = "failed"  # it ran and failed: an error, past its time or memory


class OutputStatus(StrEnum):
    held = "held"
    released = "released"
    rejected = "rejected"


class JobCreate(BaseModel):
    language: Language
    code: str = Field(min_length=1, max_length=20_000, description="The job's SQL or Python")
    sources: list[Code] = Field(
        min_length=1, max_length=5,
        description="The declared resources whose rows the job reads (in/<code>.csv; in SQL a "
        'table named "<code>")',
    )  # fmt: skip
    k: int = Field(default=K_MINIMUM, ge=K_MINIMUM, le=1000,
                   description="The k threshold every released table's counts are checked "
                   "against")  # fmt: skip
    seconds: int = Field(default=30, ge=1, le=3600,
                         description="Time limit (wall and CPU), s; at most the platform's "
                         "CITYBASE_SANDBOX__JOB_MAX_SECONDS")  # fmt: skip
    memory_mb: int = Field(default=1024, ge=512, le=2048, description="Memory limit, MB")


class OutputRead(BaseModel):
    id: int
    job_id: int
    name: str
    kind: str  # table, figure, model
    size: int
    sha256: str
    status: OutputStatus
    check: dict[str, Any]
    reviewed_by: str
    reviewed_at: datetime | None
    reason: str


class JobRead(BaseModel):
    id: int
    created_at: datetime
    username: str
    unit_code: str
    language: Language
    code: str
    code_sha256: str
    sources: list[str]
    access_ids: list[int]
    k: int
    status: JobStatus
    rule: str
    message: str
    log: str
    guards: list[str]
    duration_ms: int
    seconds: int
    memory_mb: int
    started_at: datetime | None
    finished_at: datetime | None
    outputs: list[OutputRead] = []


class Decision(StrEnum):
    approve = "approve"
    reject = "reject"


class Review(BaseModel):
    decision: Decision
    reason: str = Field(default="", max_length=500,
                        description="Why (required to reject)")  # fmt: skip
