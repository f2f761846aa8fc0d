"""A stored job's progress as one line in the page's language, for any page that shows it."""

from __future__ import annotations

from fastapi import Request

from citybase.core import progress
from citybase.core.bus.schemas import JobProgress
from citybase.core.web import i18n


def progress_text(request: Request, p: JobProgress) -> str:
    """The progress line of job ``p`` in the page's language."""
    lang = getattr(request.state, "lang", "zh")

    def _(message: str, **values: object) -> str:
        return i18n.translate(lang, message, **values)

    def said(message: str, **values: object) -> str:  # a step's words may carry figures
        return _(message, **values) if values else i18n.translate_message(lang, message)

    error = i18n.translate_message(lang, p.last_error) if p.last_error else ""
    return progress.line(said, lang, p.status, p.what, p.share, p.elapsed_seconds,
                         p.remaining_seconds, error)  # fmt: skip
