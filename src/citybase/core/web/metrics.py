"""Prometheus metrics: request counts and latency per route, plus gauges read on each scrape."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from fastapi import Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


Labelled = Callable[[], dict[tuple[str, ...], float]]


class _Gauges(Collector):
    def __init__(self) -> None:
        self.sources: list[tuple[str, str, Callable[[], float]]] = []
        self.counted: list[tuple[str, str, list[str], Labelled]] = []

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        for name, doc, read in self.sources:
            family = GaugeMetricFamily(name, doc)
            try:
                family.add_metric([], read())
            except Exception:  # noqa: S112 -- a failing source must not break the scrape
                continue
            yield family
        for name, doc, labels, counts in self.counted:
            counter = CounterMetricFamily(name, doc, labels=labels)
            for values, count in counts().items():
                counter.add_metric(list(values), count)
            yield counter


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

    def counter(self, name: str, doc: str, labels: list[str], counts: Labelled) -> None:
        """A counter kept elsewhere (by label values), read on each scrape."""
        self._gauges.counted.append((name, doc, labels, counts))

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE)
