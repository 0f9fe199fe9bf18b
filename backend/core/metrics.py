"""Prometheus metrics: a registry per app, HTTP counts and latency by route template."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The app's metrics; later domains register their own on ``registry``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "deskpilot_http_requests_total",
            "HTTP requests by route template, method and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "deskpilot_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def render(self) -> Response:
        """The Prometheus text exposition of every metric in the registry."""
        return Response(_generate(self.registry), media_type=CONTENT_TYPE_LATEST)


def install_metrics(app: FastAPI, metrics: Metrics) -> None:
    """Time every request and count it under its route template (not the raw path)."""

    @app.middleware("http")
    async def _observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            metrics.requests.labels(request.method, template, str(status)).inc()
            metrics.latency.labels(request.method, template).observe(time.perf_counter() - start)
