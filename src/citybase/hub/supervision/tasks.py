"""Supervision's periodic work: the sweep for stages turning yellow or red."""

from __future__ import annotations

from citybase.core.bus.service import JobContext, job
from citybase.hub.supervision import service


@job("hub.supervision.sweep", every=lambda s: s.hub.sweep_minutes * 60)
def sweep(ctx: JobContext) -> None:
    service.sweep(ctx.session, ctx.settings)
