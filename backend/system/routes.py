"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from backend.system.readiness import run_checks, run_details

router = APIRouter(tags=["system"])


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness: the process answers. Does not touch dependencies."""
    return {"status": "ok"}


@router.get(
    "/ready",
    responses={
        503: {
            "description": "Not ready: the same body, with the checks that failed.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
def ready(request: Request) -> JSONResponse:
    """Readiness: every dependency by name (database, broker, ...); 503 when any is not ready.
    ``intent`` says, per product, which intent model stage serves in this process (``none``,
    ``fast``, ``second_opinion``), its version, and whether the active version is loaded."""
    ok, checks = run_checks(request.app.state.readiness_checks)
    body: dict[str, Any] = {"status": "ready" if ok else "unavailable", "checks": checks}
    body.update(run_details(getattr(request.app.state, "readiness_details", {})))
    return JSONResponse(body, status_code=200 if ok else 503)
