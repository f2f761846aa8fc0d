"""Data products' periodic work: recording the end of contracts whose term is over."""

from __future__ import annotations

from citybase.core.bus.service import JobContext, job
from citybase.data.products import service


@job("data.products.contracts.expire", every=lambda s: 3600)
def record_expiries(ctx: JobContext) -> None:
    service.record_expiries(ctx.session)
