"""The worker's explicit handler imports cover every job kind the API may queue."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from backend.jobs.kinds import JobKind
from backend.jobs.registry import registered_kinds
from backend.worker.celery_app import celery_app
from backend.worker.handlers import HANDLER_MODULES, handler_for

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_every_job_kind_has_a_handler_in_the_worker() -> None:
    assert HANDLER_MODULES
    assert {str(kind) for kind in JobKind} <= registered_kinds()
    for kind in JobKind:
        assert callable(handler_for(kind))


def test_the_worker_app_has_both_tasks() -> None:
    assert {"deskpilot.jobs.run", "deskpilot.jobs.reap_stale"} <= set(celery_app.tasks)


def test_the_api_queues_jobs_without_loading_any_handler() -> None:
    code = (
        "import sys\n"
        "from backend.jobs.registry import registered_kinds\n"
        "import backend.main\n"
        "print(sorted(registered_kinds()), 'backend.intents.training' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[] False", out.stdout
