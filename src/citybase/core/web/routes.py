"""The kernel's own routes: health, metrics, language choice."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from citybase.core.errors import NotAuthenticated
from citybase.core.health import readiness
from citybase.core.web.access import public
from citybase.core.web.deps import AppSettings, get_database
from citybase.core.web.i18n import LANG_COOKIE, LANGUAGES

router = APIRouter()
Public = Annotated[None, Depends(public)]


@router.get("/healthz", tags=["system"])
def healthz(_: Public) -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", tags=["system"])
def readyz(request: Request, settings: AppSettings, _: Public) -> Response:
    """Readiness: the database and the shared store answer, and the bus's NATS server and the
    MQTT broker when they are configured (``core/health.py``); 503 naming what does not."""
    ok, states = readiness(settings, get_database(request), request.app.state.shared)
    return JSONResponse({"status": "ok" if ok else "unavailable", **states},
                        status_code=200 if ok else 503)  # fmt: skip


@router.get("/metrics", tags=["system"])
def metrics(request: Request, settings: AppSettings, _: Public) -> Response:
    """Prometheus text format; with ``web.metrics_token`` set, only for a scrape that sends it."""
    token = settings.web.metrics_token
    if token:
        scheme, _sep, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(given.encode(), token.encode()):
            raise NotAuthenticated("/metrics wants the scrape token (Authorization: Bearer …)")
    return request.app.state.metrics.render()  # type: ignore[no-any-return]


@router.get("/lang/{code}", include_in_schema=False)
def choose_language(code: str, _: Public, next: str = "/") -> Response:
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax")
    return response
