"""No route does its work on the event loop.

FastAPI runs a plain ``def`` route (and a plain ``def`` dependency) in its thread pool, and an
``async def`` one on the event loop. A route that reaches the database from the event loop can
wait there on a lock held by another request whose transaction only ends when the event loop
schedules its commit: the process stops answering, for good. So every route is a plain ``def``
and reads what must be awaited (a form, a body) through the dependencies of
``core/web/forms.py``; an ``async def`` is allowed only for a route or dependency that never
touches the database, listed here with the reason.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from citybase.core.web.access import iter_routes
from citybase.core.web.deps import get_session

# route endpoints that may be ``async def``: each answers without the database
ALLOWED_ROUTES: dict[str, str] = {}


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependants(sub)


def _async(call: object) -> bool:
    # a function, or an object whose class defines an ``async def __call__``
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(type(call).__call__)


@pytest.fixture
def routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    if app.state.db.dialect != "sqlite":
        pytest.skip("the routes do not depend on the database: read them once")
    found = [(p, route) for p, route in iter_routes(app.routes) if isinstance(route, APIRoute)]
    assert len(found) > 300  # through the included routers: every route the app serves
    return found


def test_no_route_is_an_async_def(routes: list[tuple[str, APIRoute]]) -> None:
    found = []
    for path, route in routes:
        name = f"{route.endpoint.__module__}.{route.endpoint.__qualname__}"
        if _async(route.endpoint) and name not in ALLOWED_ROUTES:
            found.append(f"{','.join(sorted(route.methods))} {path}: {name}")
    assert found == [], "\n".join(sorted(set(found)))


def test_no_async_dependency_takes_the_session(routes: list[tuple[str, APIRoute]]) -> None:
    """A dependency that is an ``async def`` and is given the request's session would use it on
    the event loop."""
    found = set()
    for _, route in routes:
        for dependant in _dependants(route.dependant):
            if dependant.call is None or not _async(dependant.call):
                continue
            if any(sub.call is get_session for sub in dependant.dependencies):
                found.add(f"{dependant.call.__module__}.{dependant.call.__qualname__}")
    assert found == set()
