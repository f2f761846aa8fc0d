"""The stored job that runs one sandbox code job in the background worker."""

from __future__ import annotations

from citybase.core.bus.service import JobContext, job
from citybase.data.masking import operators as ops
from citybase.data.sandbox import jobs


@job(jobs.RUN)
def run_sandbox_job(ctx: JobContext) -> None:
    # this job owns its transaction: it commits once the inputs are read and before the outcome
    # is recorded, so that no transaction (on SQLite, no write lock) stays open while code runs
    jobs.run_job(ctx.session, int(ctx.payload["id"]), ops.keys_for(ctx.settings.masking_key),
                 ctx.settings.home, progress=ctx.progress, between=ctx.session.commit)  # fmt: skip
