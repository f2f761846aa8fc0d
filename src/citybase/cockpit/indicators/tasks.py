"""Indicators' periodic work: the month just closed, measured by the platform."""

from __future__ import annotations

from citybase.cockpit.indicators import service
from citybase.core.bus.service import JobContext, job


@job("cockpit.indicators.measure", every=lambda s: s.cockpit.measure_every_hours * 3600)
def measure(ctx: JobContext) -> None:
    service.measure_due(ctx.session)
