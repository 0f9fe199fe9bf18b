"""A real API and a real Celery worker on Redis and PostgreSQL: progress, a killed worker, the
reaper (run by beat), retry, and clean failures when the broker or database is unreachable."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from backend.core.settings import load_settings
from tests.factories import PASSWORD, make_product, make_user
from tests.procs import Procs, free_port, wait_for
from tests.stack import running_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A stack of the test's own: its tests kill workers and point processes at dead services."""
    queue = f"deskpilot-test-{uuid.uuid4().hex[:8]}"
    env = {
        "DESKPILOT_BROKER_URL": REDIS_URL,
        "DESKPILOT_CELERY_QUEUE": queue,
        "DESKPILOT_JOB_HEARTBEAT_S": "0.5",
        "DESKPILOT_JOB_STALE_AFTER_S": "3",
        "DESKPILOT_REAPER_INTERVAL_S": "1",
    }
    with running_stack(tmp_path, "deskpilot_w", env=env) as running:
        running.on_stop(lambda: redis.Redis.from_url(REDIS_URL).delete(queue))
        with running.session() as session:
            product = make_product(session)
            admin = make_user(session, product=product, role=None, owner=True)
            info = {"product_id": product.id, "email": admin.email}
        yield {"procs": running.procs, "env": running.env, **info}


def _login(base: str, email: str) -> dict[str, str]:
    resp = httpx.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    resp.raise_for_status()
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def _job(base: str, headers: dict[str, str], job_id: int) -> dict[str, Any]:
    resp = httpx.get(f"{base}/api/v1/admin/jobs/{job_id}", headers=headers, timeout=5)
    resp.raise_for_status()
    return dict(resp.json())


def test_worker_runs_jobs_and_reaper_recovers_a_killed_worker(stack: dict[str, Any]) -> None:
    procs: Procs = stack["procs"]
    base = procs.start_api(free_port())
    worker = procs.start("worker1", "worker", "--concurrency", "1")
    headers = _login(base, stack["email"])
    ready = httpx.get(f"{base}/api/v1/ready").json()
    assert ready["checks"]["broker"]["ok"] and ready["checks"]["database"]["detail"] == "postgresql"
    selfcheck = f"{base}/api/v1/admin/products/{stack['product_id']}/jobs/selfcheck"

    quick = httpx.post(selfcheck, json={"steps": 3, "step_seconds": 0.2}, headers=headers).json()
    done = wait_for(
        lambda: (j := _job(base, headers, quick["id"]))["status"] == "succeeded" and j,
        60,
        "the quick job to succeed",
    )
    assert done["progress"] == 100 and done["result"]["steps"] == 3 and done["attempts"] == 1

    long = httpx.post(selfcheck, json={"steps": 40, "step_seconds": 0.25}, headers=headers).json()
    wait_for(
        lambda: (j := _job(base, headers, long["id"]))["status"] == "running" and j["progress"] > 0,
        60,
        "the long job to report progress",
    )
    procs.kill(worker)  # SIGKILL to the whole group: no chance to clean up
    assert _job(base, headers, long["id"])["status"] == "running"

    procs.start("worker2", "worker", "--concurrency", "1", "--beat")
    reaped = wait_for(
        lambda: (j := _job(base, headers, long["id"]))["status"] == "failed" and j,
        60,
        "the reaper to fail the orphaned job",
    )
    assert reaped["retryable"] and "no heartbeat" in reaped["error"]

    retry = httpx.post(f"{base}/api/v1/admin/jobs/{long['id']}/retry", headers=headers)
    assert retry.status_code == 202, retry.text
    final = wait_for(
        lambda: (j := _job(base, headers, long["id"]))["status"] == "succeeded" and j,
        90,
        "the retried job to succeed",
        every=0.5,
    )
    assert final["attempts"] == 2 and final["error"] is None


def test_unreachable_broker_and_database_fail_cleanly(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    procs: Procs = stack["procs"]
    procs.env["DESKPILOT_BROKER_URL"] = "redis://127.0.0.1:1/0"
    base = procs.start_api(free_port())
    ready = httpx.get(f"{base}/api/v1/ready", timeout=30)
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["database"]["ok"] and not checks["broker"]["ok"]
    assert "Traceback" not in checks["broker"]["detail"]

    headers = _login(base, stack["email"])
    url = f"{base}/api/v1/admin/products/{stack['product_id']}/jobs/selfcheck"
    resp = httpx.post(url, json={}, headers=headers, timeout=30)
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "broker_unavailable"
    jobs = httpx.get(
        f"{base}/api/v1/admin/products/{stack['product_id']}/jobs", headers=headers
    ).json()
    assert jobs[0]["status"] == "failed" and jobs[0]["retryable"]

    procs.env["DESKPILOT_DATABASE_URL"] = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    base2 = procs.start_api(free_port())
    ready2 = httpx.get(f"{base2}/api/v1/ready", timeout=30)
    assert ready2.status_code == 503
    db_check = ready2.json()["checks"]["database"]
    assert not db_check["ok"] and "OperationalError" in db_check["detail"]
    assert "\n" not in db_check["detail"]
    assert load_settings().env == "test"  # the test process's own settings are untouched
