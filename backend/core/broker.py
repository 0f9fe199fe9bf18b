"""The job broker: the Celery app (configured lazily from settings), sending jobs, pinging it.

It sits in ``core`` because the domains send jobs (``jobs.service``) and check the broker
(``system.readiness``) while the worker that consumes them sits above every domain; the tasks
themselves are defined in ``backend.worker.tasks`` under the names below.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from backend.core.settings import get_settings

RUN_JOB_TASK = "deskpilot.jobs.run"
REAP_STALE_TASK = "deskpilot.jobs.reap_stale"


def celery_config() -> dict[str, Any]:
    """Celery settings derived from deskpilot settings."""
    s = get_settings()
    beat_file = s.data_dir / "celerybeat-schedule"
    return {
        "broker_url": s.celery_broker_url,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 5,
        # Redis redelivers unacked tasks after this; long training jobs must not be run twice.
        "broker_transport_options": (
            {"visibility_timeout": 6 * 3600} if s.celery_broker_url.startswith("redis") else {}
        ),
        "task_default_queue": s.celery_queue,
        "task_ignore_result": True,
        "result_backend": None,
        # Job state lives in the Job table; redelivery is not relied upon (the reaper handles loss).
        "task_acks_late": False,
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule_filename": str(beat_file),
        "beat_schedule": {
            "reap-stale-jobs": {
                "task": REAP_STALE_TASK,
                "schedule": s.reaper_interval_s,
                "options": {"queue": s.celery_queue, "expires": s.reaper_interval_s},
            }
        },
    }


class LazyConfig:
    """Celery reads attributes from this object only when it first needs configuration, so
    importing this module reads no settings."""

    def __init__(self) -> None:
        self._values: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._values is None:
            self._values = celery_config()
        return self._values

    def __dir__(self) -> list[str]:
        return list(self._load())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._load()[name]
        except KeyError:
            raise AttributeError(name) from None


celery_app = Celery("deskpilot")
celery_app.config_from_object(LazyConfig())


def send_job(*, job_id: int) -> None:
    """Publish the run-job task for ``job_id``; raises if the broker cannot be reached quickly."""
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
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout_s)
