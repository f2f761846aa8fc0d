"""Every query of the code jobs' tables."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.data.sandbox.models import SandboxJob, SandboxJobOutput


def add(session: Session, row: SandboxJob | SandboxJobOutput) -> None:
    session.add(row)
    session.flush()


def job(session: Session, job_id: int) -> SandboxJob | None:
    return session.get(SandboxJob, job_id)


def jobs(session: Session, *, username: str | None = None, limit: int = 50) -> list[SandboxJob]:
    statement = select(SandboxJob).order_by(SandboxJob.id.desc())
    if username is not None:
        statement = statement.where(SandboxJob.username == username)
    return list(session.scalars(statement.limit(limit)))


def outputs(session: Session, job_ids: list[int]) -> list[SandboxJobOutput]:
    return list(session.scalars(
        select(SandboxJobOutput).where(SandboxJobOutput.job_id.in_(job_ids))
        .order_by(SandboxJobOutput.job_id.desc(), SandboxJobOutput.name)
    ))  # fmt: skip


def output(session: Session, output_id: int) -> SandboxJobOutput | None:
    return session.get(SandboxJobOutput, output_id)


def held(session: Session, limit: int = 200) -> list[SandboxJobOutput]:
    return list(session.scalars(
        select(SandboxJobOutput).where(SandboxJobOutput.status == "held")
        .order_by(SandboxJobOutput.id).limit(limit)
    ))  # fmt: skip
