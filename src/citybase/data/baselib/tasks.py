"""The base libraries' periodic work: rebuild the theme libraries whose refresh is due."""

from __future__ import annotations

from citybase.core.bus.service import JobContext, job
from citybase.data.baselib import theme_builds
from citybase.data.masking import operators as ops


@job("data.baselib.theme_builds.build_due", every=lambda s: s.baselib.theme_check_seconds)
def build_due_themes(ctx: JobContext) -> None:
    keys = ops.keys_for(ctx.settings.masking_key)
    for _ in theme_builds.build_due(ctx.session, keys, ctx.settings.baselib):
        pass
