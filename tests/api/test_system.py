"""Health, readiness (each dependency by name) and Prometheus metrics."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


def test_health(client: TestClient) -> None:
    assert client.get("/api/v1/health").json() == {"status": "ok"}


def test_ready_reports_each_dependency(client: TestClient, db_backend: str) -> None:
    resp = client.get("/api/v1/ready")
    assert resp.status_code == 200, resp.text
    checks = resp.json()["checks"]
    assert checks["database"]["ok"] and checks["broker"]["ok"]
    expected = "sqlite" if db_backend == "sqlite" else "postgresql"
    assert checks["database"]["detail"] == expected


def test_ready_fails_cleanly_when_a_check_fails(client: TestClient) -> None:
    def broken() -> str:
        raise ConnectionError("connection refused\nmore lines that must not leak")

    client.app.state.readiness_checks["index"] = broken  # type: ignore[attr-defined]
    resp = client.get("/api/v1/ready")
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["index"] == {
        "ok": False,
        "detail": "ConnectionError: connection refused",
        "ms": body["checks"]["index"]["ms"],
    }
    assert body["checks"]["database"]["ok"]


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/api/v1/health")
    client.get("/api/v1/admin/jobs/12345")
    text = client.get("/metrics").text
    assert 'deskpilot_http_requests_total{method="GET",route="/api/v1/health",status="200"}' in text
    assert 'route="/api/v1/admin/jobs/{job_id}",status="401"' in text
    assert "deskpilot_http_request_duration_seconds_bucket" in text
    assert "/api/v1/admin/jobs/12345" not in text
