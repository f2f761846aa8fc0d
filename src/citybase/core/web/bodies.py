"""Request bodies are limited before they are parsed: a body declared larger than its limit is
refused (413) without a byte of it read, and one streamed without a length is counted as it
arrives and refused the moment it passes the limit, so a 100 MB body never sits in memory.

Limits (``Settings.web``): file uploads (``multipart/form-data``) take ``max_upload_megabytes``,
batches (readings, NGSI-LD batch operations: the ``batch_paths`` prefixes) take
``max_batch_megabytes``, everything else ``max_body_megabytes``. The refusal is written in the
API's own format (``core/web/errors.py``).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citybase.core.settings import Settings
from citybase.core.web import errors

MB = 1_000_000
FORM = 65_536  # an upload's form fields and part headers, beside its files


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its limit; rendered as a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit / MB:g} MB, the most "
                              "taken here")  # fmt: skip


class BodyLimits:
    def __init__(self, settings: Settings) -> None:
        web = settings.web
        self.general = int(web.max_body_megabytes * MB)
        self.batch = int(web.max_batch_megabytes * MB)
        # never below one file the file store keeps, with room for the form around it
        self.upload = int(max(web.max_upload_megabytes, settings.files.max_megabytes) * MB) + FORM
        self.batch_paths = tuple(p.strip() for p in web.batch_paths.split(",") if p.strip())

    def of(self, path: str, content_type: str) -> int:
        if content_type.lower().startswith("multipart/form-data"):
            return self.upload
        if path.startswith(self.batch_paths):
            return self.batch
        return self.general


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.limits = BodyLimits(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_type, declared = "", None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"content-length":
                declared = value
        limit = self.limits.of(scope["path"], content_type)
        if declared is not None:
            size = int(declared) if declared.isdigit() else None
            if size is None or size > limit:  # refused unread, as is a length that is no number
                exc = (HTTPException(400, "Content-Length is not a number") if size is None
                       else BodyTooLarge(limit))  # fmt: skip
                response = await errors.render_http_error(Request(scope), exc)
                await response(scope, receive, send)
                return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:  # read outside the routes' error handling (a middleware)
            if started:
                raise
            response = await errors.render_http_error(Request(scope), exc)
            await response(scope, receive, send)
