"""Sharing's periodic work: filing recent reads' data subjects into the subject index."""

from __future__ import annotations

from citybase.core.bus.service import JobContext, job
from citybase.data.sharing import service


@job("data.sharing.file_subjects", every=lambda s: s.sharing.subject_index_seconds)
def file_subjects(ctx: JobContext) -> None:
    service.file_subjects(ctx.session)
