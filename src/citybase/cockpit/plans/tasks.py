"""Plans' periodic work: reminding units whose monthly task update is late."""

from __future__ import annotations

from citybase.cockpit.plans import service
from citybase.core.bus.service import JobContext, job


@job("cockpit.plans.remind", every=lambda s: 3600)
def remind(ctx: JobContext) -> None:
    service.send_reminders(ctx.session, update_day=ctx.settings.cockpit.update_day)
