"""Quality's periodic work: scheduled rule runs and overdue dispute warnings."""

from __future__ import annotations

from datetime import timedelta

from citybase.core.bus.service import JobContext, job
from citybase.data.quality import service


@job("data.quality.run_due", every=lambda s: s.quality.check_seconds)
def run_due(ctx: JobContext) -> None:
    service.run_due(ctx.session, timedelta(hours=ctx.settings.quality.run_every_hours))
    service.warn_overdue(ctx.session)
