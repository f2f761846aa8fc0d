"""Rules' periodic work: looking for devices gone silent."""

from __future__ import annotations

from citybase.core.bus.service import JobContext, job
from citybase.perception.rules import service


@job("perception.rules.silence", every=lambda s: 60)
def silence(ctx: JobContext) -> None:
    service.sweep_silence(ctx.session)
