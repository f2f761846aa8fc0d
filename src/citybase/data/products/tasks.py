"""Data products' periodic work: recording the end of contracts whose term is over, and of
operation agreements past their last day (their products delisted on the day)."""

from __future__ import annotations

from citybase.core.bus.service import JobContext, job
from citybase.data.products import service


@job("data.products.contracts.expire", every=lambda s: 3600)
def record_expiries(ctx: JobContext) -> None:
    service.record_expiries(ctx.session)


@job("data.products.agreements.end", every=lambda s: 3600)
def record_agreement_ends(ctx: JobContext) -> None:
    service.record_agreement_ends(ctx.session)
