"""Prometheus metrics: a registry per app, HTTP counts and latency by route template."""

from __future__ import annotations

import re
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

        self.retrieval = Histogram(
            "deskpilot_retrieval_seconds",
            "Knowledge search latency (query embedding included) by mode.",
            ["mode"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.index_swaps = Counter(
            "deskpilot_index_swaps_total",
            "Knowledge indexes loaded by this process after a new version became active.",
            registry=self.registry,
        )

    def render(self) -> Response:
        """The Prometheus text exposition of every metric in the registry."""
        return Response(_generate(self.registry), media_type=CONTENT_TYPE_LATEST)


class RouteTemplates:
    """Maps a raw path to its route template (``/api/v1/admin/jobs/{job_id}``), from the OpenAPI
    paths; unknown paths collapse to ``unmatched`` so label cardinality stays bounded."""

    FIXED = ("/", "/metrics", "/docs", "/redoc", "/openapi.json")

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._patterns: list[tuple[re.Pattern[str], str]] | None = None

    def _compile(self) -> list[tuple[re.Pattern[str], str]]:
        templates = list(self._app.openapi().get("paths", {})) + list(self.FIXED)
        extra = getattr(self._app.state, "metric_route_templates", ())
        templates += list(extra)
        templates.sort(key=lambda t: (t.count("{"), -len(t)))
        return [
            (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(t)) + "$"), t)
            for t in templates
        ]

    def lookup(self, path: str) -> str:
        """The template matching ``path``, or ``unmatched``."""
        if self._patterns is None:
            self._patterns = self._compile()
        for pattern, template in self._patterns:
            if pattern.match(path):
                return template
        return "unmatched"


def install_metrics(app: FastAPI, metrics: Metrics) -> None:
    """Time every request and count it under its route template (not the raw path)."""
    templates = RouteTemplates(app)

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
            template = templates.lookup(request.url.path)
            metrics.requests.labels(request.method, template, str(status)).inc()
            metrics.latency.labels(request.method, template).observe(time.perf_counter() - start)
