"""Named readiness checks. Later domains (models, index, LLM) add theirs to ``app.state``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from backend.core.db import ping

Check = Callable[[], str | None]
Detail = Callable[[], Any]  # a JSON-able description of what a component serves


@dataclass
class CheckResult:
    ok: bool
    detail: str
    ms: float


def database_check(engine: Engine) -> Check:
    """Readiness of the database: a trivial query must succeed."""

    def check() -> str:
        ping(engine)
        return engine.url.get_backend_name()

    return check


def broker_check() -> Check:
    """Readiness of the Celery broker: a connection must open."""

    def check() -> str:
        from backend.core.broker import check_broker

        check_broker()
        return "reachable"

    return check


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return f"{type(exc).__name__}: {first}"[:300]


def run_checks(checks: dict[str, Check]) -> tuple[bool, dict[str, Any]]:
    """Run every check, catching failures; returns overall ok and a per-check report."""
    report: dict[str, Any] = {}
    all_ok = True
    for name, check in checks.items():
        start = time.perf_counter()
        try:
            detail = check() or "ok"
            ok = True
        except Exception as exc:  # a failing dependency is reported, never raised
            detail, ok = _short(exc), False
        all_ok &= ok
        report[name] = {
            "ok": ok,
            "detail": detail,
            "ms": round((time.perf_counter() - start) * 1000, 1),
        }
    return all_ok, report


def run_details(details: dict[str, Detail]) -> dict[str, Any]:
    """Each detail's JSON description by name; one that fails is reported as its error."""
    out: dict[str, Any] = {}
    for name, describe in details.items():
        try:
            out[name] = describe()
        except Exception as exc:  # a description never fails readiness
            out[name] = {"error": _short(exc)}
    return out
