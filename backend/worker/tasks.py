"""The worker's Celery tasks: run any job, and the periodic stale-job reaper."""

from __future__ import annotations

from backend.core.broker import REAP_STALE_TASK, RUN_JOB_TASK, celery_app
from backend.core.db import session_scope
from backend.core.settings import get_settings
from backend.jobs import service
from backend.worker.runner import run_job, worker_engine


@celery_app.task(name=RUN_JOB_TASK)
def run_job_task(job_id: int) -> str:
    """Run one job by id (the job row holds its kind and parameters)."""
    return run_job(job_id)


@celery_app.task(name=REAP_STALE_TASK)
def reap_stale_task() -> list[int]:
    """Fail running jobs whose worker stopped heartbeating (scheduled by beat)."""
    with session_scope(worker_engine()) as session:
        return service.reap_stale_jobs(
            session=session, stale_after_s=get_settings().job_stale_after_s
        )
