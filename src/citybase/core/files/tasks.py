"""The file store's periodic work: the bytes failed requests left behind are removed."""

from __future__ import annotations

import logging

from citybase.core.bus.service import JobContext, job
from citybase.core.files import service

log = logging.getLogger(__name__)


@job("core.files.sweep", every=lambda s: 6 * 3600)
def sweep(ctx: JobContext) -> None:
    removed = service.sweep(ctx.session, ctx.settings)
    if removed:
        log.info("removed %d stored files no upload names", removed)
