"""Dispatch's periodic work: a challenger to the category classifier, trained from closed cases
and corrections, judged against the champion (weekly by default), and the same on demand."""

from __future__ import annotations

from citybase.core.bus.service import JobContext, job
from citybase.core.ledger.schemas import Actor
from citybase.hub.dispatch import learning
from citybase.hub.dispatch.auth import MODELS_READ


@job("hub.dispatch.retrain", every=lambda s: s.hub.retrain_hours * 3600, watch=MODELS_READ)
def retrain(ctx: JobContext) -> None:
    learning.retrain(ctx.session, ctx.settings.home, ctx.settings.hub, Actor.system("dispatch"),
                     progress=ctx.progress)  # fmt: skip


@job(learning.RETRAIN_NOW, watch=MODELS_READ)
def retrain_now(ctx: JobContext) -> None:
    """Asked for from the console or the API: the actor is who asked."""
    actor = Actor(name=str(ctx.payload.get("by") or "dispatch"),
                  unit=str(ctx.payload.get("unit") or ""))  # fmt: skip
    learning.retrain(ctx.session, ctx.settings.home, ctx.settings.hub, actor,
                     name=ctx.payload.get("name") or None, progress=ctx.progress)  # fmt: skip
