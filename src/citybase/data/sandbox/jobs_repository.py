"""Every query of the code jobs' tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from citybase.data.sandbox.models import SandboxJob, SandboxJobOutput


def add(session: Session, row: SandboxJob | SandboxJobOutput) -> None:
    session.add(row)
    session.flush()


def job(session: Session, job_id: int, *, fresh: bool = False) -> SandboxJob | None:
    """The job; ``fresh``: read again from the database, not from the session's memory."""
    return session.get(SandboxJob, job_id, populate_existing=fresh)


def move(session: Session, job_id: int, from_status: str, to_status: str,
         **values: datetime) -> bool:  # fmt: skip
    """Move a job from one status to another if it still is in the first, in one conditional
    ``UPDATE``: of two workers (or a worker and a cancel) only one succeeds."""
    result = session.execute(
        update(SandboxJob)
        .where(SandboxJob.id == job_id, SandboxJob.status == from_status)
        .values(status=to_status, **values)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


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
