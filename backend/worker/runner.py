"""Runs one job in a worker: claim, heartbeat in the background, run the handler, record its end."""

from __future__ import annotations

import logging
import socket
import threading
import traceback
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend.core.db import make_engine, session_scope
from backend.core.errors import DeskpilotError
from backend.core.settings import get_settings
from backend.jobs import service
from backend.models import all_tables
from backend.worker.handlers import handler_for

log = logging.getLogger(__name__)


class JobAborted(Exception):
    """The job stopped being ours (reaped or finished elsewhere): stop working on it."""


@lru_cache(maxsize=1)
def worker_engine() -> Engine:
    """The worker process's engine, built on first use (after Celery forks)."""
    all_tables()  # every table, so foreign keys between domains resolve
    s = get_settings()
    return make_engine(s.sqlalchemy_url, connect_timeout_s=s.db_connect_timeout_s)


class _Context:
    def __init__(self, engine: Engine, job_id: int, product_id: int | None) -> None:
        self._engine = engine
        self.job_id = job_id
        self.product_id = product_id

    def session(self) -> AbstractContextManager[Session]:
        return session_scope(self._engine)

    def progress(self, percent: float, message: str = "") -> None:
        with session_scope(self._engine) as session:
            alive = service.report_progress(
                session=session, job_id=self.job_id, progress=int(percent), message=message
            )
        if not alive:
            raise JobAborted(f"job {self.job_id} is no longer running")


def _heartbeat_loop(engine: Engine, job_id: int, every_s: float, stop: threading.Event) -> None:
    while not stop.wait(every_s):
        try:
            with session_scope(engine) as session:
                if not service.heartbeat(session=session, job_id=job_id):
                    return
        except Exception:  # a missed beat is retried next interval; the reaper tolerates a few
            log.warning("heartbeat for job %s failed", job_id, exc_info=True)


def run_job(job_id: int, engine: Engine | None = None) -> str:
    """Run the job to its end and return its final status; never raises for handler errors."""
    engine = engine or worker_engine()
    settings = get_settings()
    with session_scope(engine) as session:
        job = service.get_job(session=session, job_id=job_id)
        kind, product_id, params = job.kind, job.product_id, dict(job.params)
        if not service.claim_job(session=session, job_id=job_id, worker=socket.gethostname()):
            log.info("job %s is not queued any more; skipping", job_id)
            return "skipped"
    stop = threading.Event()
    beat = threading.Thread(
        target=_heartbeat_loop, args=(engine, job_id, settings.job_heartbeat_s, stop), daemon=True
    )
    beat.start()
    try:
        handler = handler_for(kind)
        result: dict[str, Any] | None = handler(_Context(engine, job_id, product_id), params)
    except JobAborted:
        return "aborted"
    except DeskpilotError as exc:  # expected, explained failure (bad data...): not retryable
        _fail(engine, job_id, exc.message, retryable=False)
        return "failed"
    except Exception as exc:
        log.exception("job %s (%s) crashed", job_id, kind)
        detail = "".join(traceback.format_exception_only(exc)).strip()
        _fail(engine, job_id, f"unexpected error: {detail}", retryable=True)
        return "failed"
    finally:
        stop.set()
        beat.join(timeout=5)
    with session_scope(engine) as session:
        service.finish_job(session=session, job_id=job_id, result=result)
    return "succeeded"


def _fail(engine: Engine, job_id: int, error: str, *, retryable: bool) -> None:
    with session_scope(engine) as session:
        service.fail_job(session=session, job_id=job_id, error=error, retryable=retryable)
