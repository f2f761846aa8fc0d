"""Tables of the privacy-computing sandbox (隐私计算沙箱, 数据可用不可见): what a steward made
available and how, the privacy budgets granted on it, what was spent of them, and every query."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType, TimestampMixin


class SandboxDeclaration(IdMixin, TimestampMixin, Base):
    """A resource made available to differentially private queries by its providing unit's
    steward: the column that tells one person's rows apart (the privacy unit), how many rows a
    person may contribute, the categorical columns with their public values and the numeric
    columns with their bounds. Nothing else of the resource can be asked about."""

    __tablename__ = "sandbox_declarations"

    resource_code: Mapped[str] = mapped_column(String(60), unique=True)
    provider_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    identifier: Mapped[str] = mapped_column(String(100))
    max_rows_per_person: Mapped[int] = mapped_column(Integer)
    categorical: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # column → keys
    numeric: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict
    )  # column → {lower, upper}
    declared_by: Mapped[str] = mapped_column(String(100))
    # the privacy unit: ``person`` — the base library's person id (一人一档) where a row is
    # linked, else the identifier column; ``identifier`` — the identifier column alone
    privacy_unit: Mapped[str] = mapped_column(String(10), default="person")


class SandboxGrant(IdMixin, TimestampMixin, Base):
    """A privacy budget (隐私预算) on one declared resource for a unit (or one of its users): so
    much ε per period, until revoked or past its last day. ε is kept in millionths, so that
    budgets add up exactly."""

    __tablename__ = "sandbox_grants"

    resource_code: Mapped[str] = mapped_column(String(60), index=True)
    unit_code: Mapped[str] = mapped_column(String(40), index=True)
    username: Mapped[str] = mapped_column(String(100), default="")  # empty: any of the unit's
    epsilon_micro: Mapped[int] = mapped_column(BigInteger)
    delta_pico: Mapped[int] = mapped_column(BigInteger, default=0)  # δ per period, in 10^-12
    period: Mapped[str] = mapped_column(String(8))  # month, year
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    valid_until: Mapped[date | None]
    granted_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str] = mapped_column(String(100), default="")
    revoke_reason: Mapped[str] = mapped_column(Text, default="")
    # the share request this grant answers (以沙箱方式答复), if it was made so
    share_request: Mapped[str] = mapped_column(String(20), default="")


class SandboxBudget(IdMixin, Base):
    """What one grant has spent in one period (2026-12 for a month, 2026 for a year). Spending is
    one conditional UPDATE on this row, so two requests cannot spend the same budget twice."""

    __tablename__ = "sandbox_budgets"
    __table_args__ = (UniqueConstraint("grant_id", "period_key"),)

    grant_id: Mapped[int] = mapped_column(ForeignKey("sandbox_grants.id", ondelete="RESTRICT"))
    period_key: Mapped[str] = mapped_column(String(7))
    budget_micro: Mapped[int] = mapped_column(BigInteger)
    spent_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    budget_delta_pico: Mapped[int] = mapped_column(BigInteger, default=0)
    spent_delta_pico: Mapped[int] = mapped_column(BigInteger, default=0)
    queries: Mapped[int] = mapped_column(Integer, default=0)


class SandboxQuery(IdMixin, TimestampMixin, Base):
    """One query asked of the sandbox, answered or refused: its text, what it cost, its answer
    with OpenDP's accuracy, or the rule that refused it."""

    __tablename__ = "sandbox_queries"

    username: Mapped[str] = mapped_column(String(100), index=True)
    unit_code: Mapped[str] = mapped_column(String(40), default="")
    resource_code: Mapped[str] = mapped_column(String(60), default="", index=True)
    grant_id: Mapped[int | None] = mapped_column(
        ForeignKey("sandbox_grants.id", ondelete="RESTRICT"), index=True
    )
    period_key: Mapped[str] = mapped_column(String(7), default="")
    form: Mapped[str] = mapped_column(String(4))  # sql, json
    text: Mapped[str] = mapped_column(Text)
    epsilon_micro: Mapped[int] = mapped_column(BigInteger)
    delta_pico: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(10), default="running")  # answered, refused
    rule: Mapped[str] = mapped_column(String(60), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    answer: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    access_id: Mapped[int | None] = mapped_column(BigInteger)


class SandboxJob(IdMixin, TimestampMixin, Base):
    """A code job (代码作业): SQL or Python an analyst runs over the rows of declared resources
    in an isolated process. Its code (and hash), the traced reads of its inputs, how it ended
    and which guards were in force; its outputs are held until checked."""

    __tablename__ = "sandbox_jobs"

    username: Mapped[str] = mapped_column(String(100), index=True)
    unit_code: Mapped[str] = mapped_column(String(40), default="")
    language: Mapped[str] = mapped_column(String(8))  # sql, python
    code: Mapped[str] = mapped_column(Text)
    code_sha256: Mapped[str] = mapped_column(String(64))
    sources: Mapped[list[Any]] = mapped_column(JSONType, default=list)  # resource codes
    provider_units: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    access_ids: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    k: Mapped[int] = mapped_column(Integer)
    # queued, running, finished, refused, failed, cancelled
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    rule: Mapped[str] = mapped_column(String(60), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    log: Mapped[str] = mapped_column(Text, default="")  # the end of its stdout and stderr
    guards: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[int] = mapped_column(Integer, default=30)  # its time limit (wall and CPU)
    memory_mb: Mapped[int] = mapped_column(Integer, default=1024)
    started_at: Mapped[datetime | None]  # when a worker claimed it
    finished_at: Mapped[datetime | None]


class SandboxJobOutput(IdMixin, TimestampMixin, Base):
    """A file a job wrote to ``out/``: held until checked — a table automatically against the
    k threshold, everything else by a steward — and downloadable only when released."""

    __tablename__ = "sandbox_job_outputs"
    __table_args__ = (UniqueConstraint("job_id", "name"),)

    job_id: Mapped[int] = mapped_column(ForeignKey("sandbox_jobs.id", ondelete="RESTRICT"),
                                        index=True)  # fmt: skip
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))  # table, figure, model
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default="held")  # held, released, rejected
    check: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    reviewed_by: Mapped[str] = mapped_column(String(100), default="")
    reviewed_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")


class SandboxRelease(IdMixin, TimestampMixin, Base):
    """A release of de-identified micro-data (去标识化数据发布, GB/T 37964): a resource's rows
    generalised and suppressed to a declared k-anonymity and l-diversity, with its report.
    Prepared by a steward of the providing unit, reviewed by another steward or the bureau,
    then published to the units named (or to every unit). The released rows are kept here, as
    released: nothing else of the resource is."""

    __tablename__ = "sandbox_releases"

    resource_code: Mapped[str] = mapped_column(String(60), index=True)
    provider_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # what was declared
    recipients: Mapped[list[str]] = mapped_column(JSONType, default=list)  # unit codes
    open_to_all: Mapped[bool] = mapped_column(Boolean, default=False)
    # prepared, refused, approved, rejected, published
    status: Mapped[str] = mapped_column(String(10), index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    report: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    columns: Mapped[list[str]] = mapped_column(JSONType, default=list)
    rows: Mapped[list[Any]] = mapped_column(JSONType, default=list)  # lists, in column order
    access_id: Mapped[int | None] = mapped_column(BigInteger)
    prepared_by: Mapped[str] = mapped_column(String(100))
    reviewed_by: Mapped[str] = mapped_column(String(100), default="")
    reviewed_at: Mapped[datetime | None]
    review_note: Mapped[str] = mapped_column(Text, default="")
    published_by: Mapped[str] = mapped_column(String(100), default="")
    published_at: Mapped[datetime | None]
    downloads: Mapped[int] = mapped_column(Integer, default=0)
