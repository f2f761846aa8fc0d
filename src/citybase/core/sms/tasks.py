"""The stored job that sends one text message."""

from __future__ import annotations

from citybase.core.bus.service import JobContext, job
from citybase.core.sms import service


@job(service.SEND)
def send_message(ctx: JobContext) -> None:
    service.deliver_message(ctx.session, ctx.settings, int(ctx.payload["id"]))
