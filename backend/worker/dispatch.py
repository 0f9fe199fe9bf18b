"""Sending jobs to the broker, failing fast when it is down."""

from __future__ import annotations

from backend.core.settings import get_settings

RUN_JOB_TASK = "deskpilot.jobs.run"


def send_job(*, job_id: int) -> None:
    """Publish the run-job task for ``job_id``; raises if the broker cannot be reached quickly."""
    from backend.worker.celery_app import celery_app

    celery_app.send_task(
        RUN_JOB_TASK,
        kwargs={"job_id": job_id},
        queue=get_settings().celery_queue,
        retry=True,
        retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1,
        },
    )


def check_broker(timeout_s: float = 3.0) -> None:
    """Connect to the broker once; raises when it is unreachable."""
    from backend.worker.celery_app import celery_app

    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout_s)
