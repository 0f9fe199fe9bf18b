"""Job handlers of the jobs domain: the worker self-check, which proves a worker runs jobs."""

from __future__ import annotations

import platform
import time
from typing import Any

from backend.jobs.kinds import JobKind
from backend.jobs.registry import JobContext, register

SELFCHECK = JobKind.selfcheck


@register(SELFCHECK)
def selfcheck(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Walk through ``steps`` steps, reporting progress, to show a worker picks up and runs jobs."""
    steps = int(params.get("steps", 5))
    step_seconds = float(params.get("step_seconds", 0.2))
    started = time.monotonic()
    for i in range(steps):
        time.sleep(step_seconds)
        ctx.progress(100 * (i + 1) / steps, f"step {i + 1}/{steps}")
    return {
        "steps": steps,
        "seconds": round(time.monotonic() - started, 3),
        "python": platform.python_version(),
    }
