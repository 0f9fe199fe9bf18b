"""The worker's Celery app: the broker's app with every task registered.

Start a worker with ``deskpilot worker`` (or ``celery -A backend.worker.celery_app worker``).
Settings are read lazily, when Celery first needs its configuration.
"""

from __future__ import annotations

from backend.core.broker import celery_app
from backend.worker.tasks import reap_stale_task, run_job_task

__all__ = ["celery_app", "reap_stale_task", "run_job_task"]
