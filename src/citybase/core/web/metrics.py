"""Prometheus metrics: request counts and latency per route, plus gauges read on each scrape."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable

from fastapi import Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.routing import Match

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Gauges(Collector):
    def __init__(self) -> None:
        self.sources: list[tuple[str, str, Callable[[], float]]] = []

    def collect(self) -> Iterable[GaugeMetricFamily]:
        for name, doc, read in self.sources:
            family = GaugeMetricFamily(name, doc)
            try:
                family.add_metric([], read())
            except Exception:  # noqa: S112 -- a failing source must not break the scrape
                continue
            yield family


class Metrics:
    """One registry per app, so that several apps (tests) never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "citybase_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "citybase_http_request_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            registry=self.registry,
        )
        self._gauges = _Gauges()
        self.registry.register(self._gauges)

    def gauge(self, name: str, doc: str, read: Callable[[], float]) -> None:
        self._gauges.sources.append((name, doc, read))

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE)

    async def middleware(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = _route_template(request)
        self.requests.labels(request.method, route, str(response.status_code)).inc()
        self.latency.labels(request.method, route).observe(time.perf_counter() - start)
        return response


def _route_template(request: Request) -> str:
    matched = request.scope.get("route")
    if matched is not None:
        return str(getattr(matched, "path", "?"))
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "?"))
    return "unmatched"
