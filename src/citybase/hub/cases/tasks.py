"""Cases' periodic work: learning the category classifier again from closed cases."""

from __future__ import annotations

from citybase.core.bus.service import JobContext, job
from citybase.hub.cases import service


@job("hub.dispatch.retrain", every=lambda s: s.hub.retrain_hours * 3600)
def retrain(ctx: JobContext) -> None:
    service.retrain(ctx.session, ctx.settings.home, ctx.settings.hub.dispatch_model)
