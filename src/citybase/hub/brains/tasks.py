"""The brains' periodic work: looking for hot spots."""

from __future__ import annotations

from citybase.core.bus.service import JobContext, job
from citybase.hub.brains import service


@job("hub.brains.hotspots", every=lambda s: 3600)
def hot_spots(ctx: JobContext) -> None:
    service.detect(ctx.session, ctx.settings.hub)
