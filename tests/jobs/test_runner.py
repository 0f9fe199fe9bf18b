"""The job runner in-process, on a database file of its own (it opens its own sessions)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend.core import migrate
from backend.core.db import make_engine
from backend.core.errors import InvalidInput
from backend.jobs import service
from backend.jobs.models import Job, JobStatus
from backend.jobs.registry import JobContext, register
from backend.worker.runner import run_job
from tests.factories import make_product

pytestmark = pytest.mark.integration


@register("test.boom")
def _boom(ctx: JobContext, params: dict[str, Any]) -> None:
    ctx.progress(30, "about to fail")
    if params.get("expected"):
        raise InvalidInput("the uploaded file has no 'question' column")
    raise RuntimeError("disk on fire")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    migrate.upgrade(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


def _job(engine: Engine, kind: str, params: dict[str, Any]) -> int:
    with Session(engine) as session:
        product = make_product(session)
        job = service.create_job(session=session, kind=kind, product_id=product.id, params=params)
        return job.id or 0


def _get(engine: Engine, job_id: int) -> Job:
    with Session(engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_selfcheck_runs_with_progress(engine: Engine) -> None:
    job_id = _job(engine, "selfcheck", {"steps": 3, "step_seconds": 0})
    assert run_job(job_id, engine) == "succeeded"
    job = _get(engine, job_id)
    assert job.status == JobStatus.succeeded and job.progress == 100
    assert job.result and job.result["steps"] == 3
    assert job.started_at and job.finished_at and job.heartbeat_at


def test_expected_error_is_not_retryable(engine: Engine) -> None:
    job_id = _job(engine, "test.boom", {"expected": True})
    assert run_job(job_id, engine) == "failed"
    job = _get(engine, job_id)
    assert job.status == JobStatus.failed and not job.retryable
    assert job.error == "the uploaded file has no 'question' column"


def test_crash_is_retryable(engine: Engine) -> None:
    job_id = _job(engine, "test.boom", {})
    assert run_job(job_id, engine) == "failed"
    job = _get(engine, job_id)
    assert job.retryable and "disk on fire" in (job.error or "")


def test_reaped_job_is_skipped_or_aborted(engine: Engine) -> None:
    job_id = _job(engine, "selfcheck", {"steps": 1, "step_seconds": 0})
    with Session(engine) as session:
        service.fail_job(session=session, job_id=job_id, error="reaped", retryable=True)
    assert run_job(job_id, engine) == "skipped"
    assert _get(engine, job_id).error == "reaped"
