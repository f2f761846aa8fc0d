"""One plain ASGI middleware for what every response needs: the console language, security
headers, and request metrics. (Starlette's decorator middlewares cost a task and a stream per
request; this costs a function call.)"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citybase.core.web.i18n import LANG_COOKIE, choose
from citybase.core.web.metrics import Metrics

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
# Swagger UI starts itself with an inline script that FastAPI writes; only /docs allows it.
CSP_DOCS = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'").replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)


class ConsoleMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, default_language: str) -> None:
        self.app = app
        self.metrics = metrics
        self.default_language = default_language

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        state: dict[str, Any] = scope.setdefault("state", {})
        state["lang"] = choose(
            HTTPConnection(scope).cookies.get(LANG_COOKIE), self.default_language
        )
        csp = (CSP_DOCS if scope["path"] == "/docs" else CSP).encode()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in (
                    (b"content-security-policy", csp),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                ):
                    if name not in present:
                        headers.append((name, value))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route = scope.get("route")
            template = (
                str(getattr(route, "path", "unmatched")) if route is not None else "unmatched"
            )
            method = scope["method"]
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - start)
