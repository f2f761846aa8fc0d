"""The route-access registry: every route must declare who may call it.

A route declares access by depending on a function marked with ``declares_access`` — a domain's
permission dependency (``require("orgs:write")``) or ``public``. ``undeclared_routes`` lists the
routes of an app that declare none; a test fails on any.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import Mount

F = TypeVar("F", bound=Callable[..., Any])

_ACCESS_ATTR = "__citybase_access__"
_PUBLIC_MOUNTS: set[str] = set()


def declares_access(description: str) -> Callable[[F], F]:
    def mark(fn: F) -> F:
        setattr(fn, _ACCESS_ATTR, description)
        return fn

    return mark


@declares_access("public")
def public() -> None:
    """Anyone may call this route, signed in or not."""


Public = Annotated[None, Depends(public)]


def public_mount(path: str) -> str:
    """Record that a mounted sub-application (static files) is public on purpose."""
    _PUBLIC_MOUNTS.add(path)
    return path


def access_of(dependant: Dependant) -> list[str]:
    found: list[str] = []
    for dep in dependant.dependencies:
        marker = getattr(dep.call, _ACCESS_ATTR, None)
        if marker is not None:
            found.append(marker)
        found.extend(access_of(dep))
    return found


def iter_routes(routes: list[Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Every route with its full path, through included routers (flat or nested)."""
    found: list[tuple[str, Any]] = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI keeps included routers as one lazy entry
            context = getattr(route, "include_context", None)
            found.extend(iter_routes(included.routes, prefix + getattr(context, "prefix", "")))
        else:
            found.append((prefix + getattr(route, "path", ""), route))
    return found


def undeclared_routes(app: FastAPI) -> list[str]:
    missing: list[str] = []
    for full_path, route in iter_routes(app.routes):
        if isinstance(route, APIRoute | APIWebSocketRoute):
            if not access_of(route.dependant):
                methods = ",".join(sorted(getattr(route, "methods", None) or {"WS"}))
                missing.append(f"{methods} {full_path}")
        elif isinstance(route, Mount):
            if full_path not in _PUBLIC_MOUNTS:
                missing.append(f"MOUNT {full_path}")
        elif full_path not in _FASTAPI_BUILTINS:
            # FastAPI's own routes (openapi.json) are public by nature; nothing else may be bare
            missing.append(f"? {full_path}")
    return missing


_FASTAPI_BUILTINS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
