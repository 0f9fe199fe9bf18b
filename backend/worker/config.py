"""Celery configuration, built from settings when Celery first reads it (not at import)."""

from __future__ import annotations

from typing import Any


def celery_config() -> dict[str, Any]:
    """Celery settings derived from deskpilot settings."""
    from backend.core.settings import get_settings

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
                "task": "deskpilot.jobs.reap_stale",
                "schedule": s.reaper_interval_s,
                "options": {"queue": s.celery_queue, "expires": s.reaper_interval_s},
            }
        },
    }


class LazyConfig:
    """Celery reads attributes from this object only when it first needs configuration."""

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
