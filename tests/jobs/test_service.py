"""Job lifecycle rules: guarded transitions, progress, reaper, retry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from backend.core.db import utcnow
from backend.core.errors import InvalidInput
from backend.jobs import service
from backend.jobs.models import Job, JobStatus
from tests.factories import make_job, make_product

pytestmark = pytest.mark.integration


def _reload(session: Session, job: Job) -> Job:
    session.expire_all()
    fresh = session.get(Job, job.id)
    assert fresh is not None
    return fresh


def test_lifecycle(session: Session) -> None:
    job = make_job(session, make_product(session))
    assert job.status == JobStatus.queued
    assert service.claim_job(session=session, job_id=job.id or 0, worker="w1")
    assert not service.claim_job(session=session, job_id=job.id or 0, worker="w2")  # claimed once
    assert service.report_progress(session=session, job_id=job.id or 0, progress=140, message="m")
    job = _reload(session, job)
    assert (job.status, job.progress, job.message, job.attempts) == (JobStatus.running, 100, "m", 1)
    assert service.finish_job(session=session, job_id=job.id or 0, result={"n": 1})
    job = _reload(session, job)
    assert job.status == JobStatus.succeeded and job.result == {"n": 1} and job.finished_at
    assert not service.report_progress(session=session, job_id=job.id or 0, progress=5)


def test_unknown_kind_is_refused(session: Session) -> None:
    with pytest.raises(InvalidInput, match="unknown job kind 'nope'"):
        service.create_job(session=session, kind="nope", product_id=None)


def test_reaper_fails_only_stale_running_jobs(session: Session) -> None:
    product = make_product(session)
    stale, fresh, queued = (make_job(session, product) for _ in range(3))
    for job in (stale, fresh):
        service.claim_job(session=session, job_id=job.id or 0, worker="w")
    old = utcnow() - timedelta(seconds=120)
    service._set(session, stale.id or 0, JobStatus.running, heartbeat_at=old)
    reaped = service.reap_stale_jobs(session=session, stale_after_s=60)
    assert stale.id in reaped and fresh.id not in reaped and queued.id not in reaped
    stale = _reload(session, stale)
    assert stale.status == JobStatus.failed and stale.retryable
    assert "no heartbeat" in (stale.error or "")
    # A late worker cannot resurrect a reaped job.
    assert not service.finish_job(session=session, job_id=stale.id or 0)
    assert _reload(session, fresh).status == JobStatus.running


def test_retry_only_failed_retryable(session: Session) -> None:
    job = make_job(session, make_product(session))
    with pytest.raises(InvalidInput, match="only failed, retryable"):
        service.retry_job(session=session, job=job)
    service.fail_job(session=session, job_id=job.id or 0, error="bad input", retryable=False)
    with pytest.raises(InvalidInput, match="not retryable"):
        service.retry_job(session=session, job=_reload(session, job))
    service._set(session, job.id or 0, JobStatus.failed, retryable=True)
    retried = service.retry_job(session=session, job=_reload(session, job))  # memory:// broker
    assert retried.status == JobStatus.queued and retried.error is None
