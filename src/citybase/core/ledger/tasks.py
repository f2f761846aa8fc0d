"""The ledger's periodic work: sign and keep a tree head whenever the ledger has grown, and publish
the newest to the witness."""

from __future__ import annotations

from citybase.core.bus.service import JobContext, job
from citybase.core.ledger import service


@job("core.ledger.sign_tree_head", every=lambda s: s.ledger.tree_head_interval_seconds)
def sign_tree_head(ctx: JobContext) -> None:
    service.sign_tree_head(ctx.session, ctx.settings)
