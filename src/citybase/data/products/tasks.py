"""Data products' background work: recording the end of contracts whose term is over, and of
operation agreements past their last day (their products delisted on the day); sending the
provider's Dataspace Protocol messages to the consumers' callback addresses."""

from __future__ import annotations

from citybase.core.bus.service import JobContext, job
from citybase.data.products import callbacks, service


@job("data.products.contracts.expire", every=lambda s: 3600)
def record_expiries(ctx: JobContext) -> None:
    service.record_expiries(ctx.session)


@job("data.products.agreements.end", every=lambda s: 3600)
def record_agreement_ends(ctx: JobContext) -> None:
    service.record_agreement_ends(ctx.session)


@job(callbacks.CALLBACK_JOB)
def send_callback(ctx: JobContext) -> None:
    callbacks.send(ctx.payload, ctx.settings)
