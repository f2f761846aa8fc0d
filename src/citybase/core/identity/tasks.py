"""Identity's periodic work: forget console sessions that have expired."""

from __future__ import annotations

from citybase.core.bus.service import JobContext, job
from citybase.core.identity import service


@job("core.identity.purge_sessions", every=lambda _settings: 3600)
def purge_sessions(ctx: JobContext) -> None:
    service.purge_expired_sessions(ctx.session)
