"""The base libraries' background work: link the rows a load stored (from the bus), and rebuild
the theme libraries whose refresh is due."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.bus.schemas import EventEnvelope
from citybase.core.bus.service import JobContext, job
from citybase.core.errors import Forbidden, NotFound
from citybase.data.baselib import link_updates, runs, theme_builds
from citybase.data.baselib.linkage import Kind
from citybase.data.datastore.schemas import RowsLoaded
from citybase.data.masking import operators as ops

log = logging.getLogger(__name__)
LINK_ROWS = "data.baselib.link_rows"


@bus.consumer("data.baselib.link_rows", RowsLoaded.topic)
def on_rows_loaded(session: Session, envelope: EventEnvelope) -> None:
    """Store the work: a job carries the settings, and a failed link is retried with backoff."""
    event = RowsLoaded.model_validate(envelope.payload)
    bus.schedule(session, LINK_ROWS, payload={
        "code": event.code, "unit_code": event.unit_code, "event_id": envelope.event_id,
    })  # fmt: skip


@job(LINK_ROWS)
def link_rows(ctx: JobContext) -> None:
    """Link a resource's new and changed rows into both libraries (a resource that is not a
    source of one finds nothing to link there). A link that fails is kept as a failed
    incremental run, and the job is retried."""
    keys = ops.keys_for(ctx.settings.masking_key)
    code, unit_code = str(ctx.payload["code"]), str(ctx.payload["unit_code"])
    for kind in Kind:
        try:
            with runs.failure_kept(ctx.session, kind, ctx.settings.baselib, incremental=True,
                                   resources=[code]):  # fmt: skip
                link_updates.link_rows_of(
                    ctx.session, kind, code, ctx.settings.baselib, keys, unit_code=unit_code,
                    event_id=str(ctx.payload.get("event_id", "")),
                )  # fmt: skip
        except (Forbidden, NotFound) as exc:  # not worth retrying: said and dropped
            log.warning("rows of %s not linked: %s", code, exc)
            return


@job("data.baselib.theme_builds.build_due", every=lambda s: s.baselib.theme_check_seconds)
def build_due_themes(ctx: JobContext) -> None:
    keys = ops.keys_for(ctx.settings.masking_key)
    for _ in theme_builds.build_due(ctx.session, keys, ctx.settings.baselib):
        pass
