"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from backend.system.readiness import run_checks

router = APIRouter(tags=["system"])


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness: the process answers. Does not touch dependencies."""
    return {"status": "ok"}


@router.get("/ready")
def ready(request: Request) -> JSONResponse:
    """Readiness: every dependency by name (database, broker, ...); 503 when any is not ready."""
    ok, checks = run_checks(request.app.state.readiness_checks)
    body: dict[str, Any] = {"status": "ready" if ok else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if ok else 503)
