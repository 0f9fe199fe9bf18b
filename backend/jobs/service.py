"""Job lifecycle: create, dispatch, claim, progress, heartbeat, finish, reap, retry.

Every transition is a guarded UPDATE so two processes (API, worker, reaper) never overwrite each
other's state: a job the reaper already failed cannot be marked succeeded by a late worker.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from backend.core.broker import send_job
from backend.core.db import utcnow
from backend.core.errors import InvalidInput, NotFound, ServiceUnavailable
from backend.jobs.models import Job, JobStatus
from backend.jobs.registry import require_known

log = logging.getLogger(__name__)

TERMINAL = (JobStatus.succeeded, JobStatus.failed)


def create_job(
    *,
    session: Session,
    kind: str,
    product_id: int | None,
    params: dict[str, Any] | None = None,
    created_by: int | None = None,
) -> Job:
    """Record a queued job (committed before it is sent to the broker)."""
    require_known(kind)
    job = Job(kind=kind, product_id=product_id, params=params or {}, created_by=created_by)
    session.add(job)
    session.commit()
    session.refresh(job)
    return job


def dispatch_job(*, session: Session, job: Job) -> Job:
    """Send a queued job to the broker; if that fails the job fails (retryable) with a 503."""
    try:
        send_job(job_id=job.id or 0)
    except Exception as exc:  # any broker error: connection refused, timeout, bad URL
        log.warning("could not enqueue job %s: %s", job.id, exc)
        _set(
            session,
            job.id or 0,
            JobStatus.queued,
            status=JobStatus.failed,
            retryable=True,
            error=f"could not reach the job broker: {exc}",
            finished_at=utcnow(),
        )
        raise ServiceUnavailable(
            "the job broker is unreachable; the job was recorded as failed and can be retried",
            code="broker_unavailable",
        ) from None
    session.refresh(job)
    return job


def submit_job(
    *,
    session: Session,
    kind: str,
    product_id: int | None,
    params: dict[str, Any] | None = None,
    created_by: int | None = None,
) -> Job:
    """Create and dispatch a job in one step."""
    job = create_job(
        session=session, kind=kind, product_id=product_id, params=params, created_by=created_by
    )
    return dispatch_job(session=session, job=job)


def get_job(*, session: Session, job_id: int) -> Job:
    """The job with this id, or NotFound."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    return job


def product_of_job(*, session: Session, job_id: int) -> int:
    """The product a job belongs to (the product-access check of ``/jobs/{job_id}`` routes);
    NotFound for a missing job or one of no product."""
    job = session.get(Job, job_id)
    if job is None or job.product_id is None:
        raise NotFound(f"job {job_id} not found")
    return job.product_id


def list_jobs(*, session: Session, product_id: int, limit: int = 50) -> list[Job]:
    """The product's most recent jobs, newest first."""
    query = (
        select(Job).where(Job.product_id == product_id).order_by(col(Job.id).desc()).limit(limit)
    )
    return list(session.exec(query).all())


def _set(session: Session, job_id: int, *expected: JobStatus, **values: Any) -> bool:
    """Update the job only while it is in one of ``expected`` states; True when it was."""
    stmt = update(Job).where(col(Job.id) == job_id).values(**values)
    if expected:
        stmt = stmt.where(col(Job.status).in_(expected))
    result = session.execute(stmt)
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def claim_job(*, session: Session, job_id: int, worker: str) -> bool:
    """Move a queued job to running; False when it was already claimed, reaped or finished."""
    now = utcnow()
    return _set(
        session,
        job_id,
        JobStatus.queued,
        status=JobStatus.running,
        started_at=now,
        heartbeat_at=now,
        worker=worker,
        progress=0,
        message="started",
        attempts=col(Job.attempts) + 1,
    )


def report_progress(*, session: Session, job_id: int, progress: int, message: str = "") -> bool:
    """Record progress (0-100) and a heartbeat; False once the job is no longer running."""
    values: dict[str, Any] = {
        "progress": max(0, min(100, int(progress))),
        "heartbeat_at": utcnow(),
    }
    if message:
        values["message"] = message[:500]
    return _set(session, job_id, JobStatus.running, **values)


def heartbeat(*, session: Session, job_id: int) -> bool:
    """Mark the running job alive; False once it is no longer running."""
    return _set(session, job_id, JobStatus.running, heartbeat_at=utcnow())


def finish_job(*, session: Session, job_id: int, result: dict[str, Any] | None = None) -> bool:
    """Mark a running job succeeded with its result."""
    return _set(
        session,
        job_id,
        JobStatus.running,
        status=JobStatus.succeeded,
        progress=100,
        message="done",
        result=result,
        finished_at=utcnow(),
        error=None,
    )


def fail_job(*, session: Session, job_id: int, error: str, retryable: bool) -> bool:
    """Mark a queued or running job failed."""
    return _set(
        session,
        job_id,
        JobStatus.queued,
        JobStatus.running,
        status=JobStatus.failed,
        error=error[:4000],
        retryable=retryable,
        finished_at=utcnow(),
    )


def reap_stale_jobs(*, session: Session, stale_after_s: float) -> list[int]:
    """Fail (retryable) every running job whose heartbeat is older than ``stale_after_s``."""
    cutoff = utcnow() - timedelta(seconds=stale_after_s)
    stale = session.exec(
        select(Job.id).where(Job.status == JobStatus.running, col(Job.heartbeat_at) < cutoff)
    ).all()
    reaped = []
    for job_id in stale:
        assert job_id is not None
        error = (
            f"the worker stopped responding (no heartbeat for over {stale_after_s:.0f} s); "
            "it was probably killed or lost its host. Retry the job."
        )
        if _set(
            session,
            job_id,
            JobStatus.running,
            status=JobStatus.failed,
            error=error,
            retryable=True,
            finished_at=utcnow(),
        ):
            reaped.append(job_id)
    if reaped:
        log.warning("reaped stale jobs: %s", reaped)
    return reaped


def retry_job(*, session: Session, job: Job) -> Job:
    """Queue a failed, retryable job again and dispatch it."""
    if job.status != JobStatus.failed or not job.retryable:
        raise InvalidInput(
            f"job {job.id} is {job.status}"
            + ("" if job.status != JobStatus.failed else " and not retryable")
            + "; only failed, retryable jobs can be retried",
            code="not_retryable",
        )
    _set(
        session,
        job.id or 0,
        JobStatus.failed,
        status=JobStatus.queued,
        progress=0,
        message="queued for retry",
        error=None,
        finished_at=None,
        started_at=None,
        heartbeat_at=None,
        worker=None,
        retryable=False,
    )
    session.refresh(job)
    return dispatch_job(session=session, job=job)
