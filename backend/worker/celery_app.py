"""The Celery app. Settings are read lazily, when Celery first needs its configuration.

Start a worker with ``deskpilot worker`` (or ``celery -A backend.worker.celery_app worker``).
"""

from __future__ import annotations

from celery import Celery

from backend.worker.config import LazyConfig

celery_app = Celery("deskpilot", include=["backend.jobs.tasks"])
celery_app.config_from_object(LazyConfig())
