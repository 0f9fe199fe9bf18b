"""Parts of `deskpilot up`: the orphan reaper (stops the groups it was told of when its
supervisor's pipe closes without ``done``), the console's probe filter, and its progress lines
(one per job event, from the jobs table)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import Session

from backend.cli.main import _not_a_probe
from backend.cli.reaper import reap
from backend.cli.up_progress import UpProgress
from backend.core import migrate
from backend.core.db import make_engine, utcnow
from backend.jobs.kinds import JobKind
from backend.jobs.models import Job, JobStatus
from tests.procs import ROOT, wait_for

pytestmark = pytest.mark.unit  # the progress test's SQLite file is the one service it needs


def _group() -> subprocess.Popen[bytes]:
    """A process group of two sleeping processes (a shell and its child)."""
    return subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60; wait"], start_new_session=True)


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _reaper() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "backend.cli.reaper"], stdin=subprocess.PIPE, cwd=ROOT
    )


def test_reap_stops_whole_groups() -> None:
    group = _group()
    time.sleep(0.2)
    reap([group.pid], grace_s=5)
    group.wait(timeout=5)
    wait_for(lambda: not _alive(group.pid), 5, "the group's other process to go")


def test_reaper_reaps_when_its_supervisor_vanishes_and_not_after_done() -> None:
    orphaned, stopped = _group(), _group()
    try:
        for group, last in ((orphaned, ""), (stopped, "done\n")):
            reaper = _reaper()
            assert reaper.stdin is not None
            reaper.stdin.write(f"+{group.pid}\n{last}".encode())
            reaper.stdin.close()  # what the supervisor's death does to the pipe
            assert reaper.wait(timeout=20) == 0
        orphaned.wait(timeout=5)
        wait_for(lambda: not _alive(orphaned.pid), 5, "the orphaned group to go")
        assert stopped.poll() is None and _alive(stopped.pid)  # `done`: nothing to reap
    finally:
        for group in (orphaned, stopped):
            if _alive(group.pid):
                os.killpg(group.pid, 9)
            group.wait()


def _access(path: str, status: int) -> logging.LogRecord:
    args = ("127.0.0.1:5000", "GET", path, "1.1", status)
    return logging.LogRecord("uvicorn.access", 20, "", 0, '%s - "%s %s HTTP/%s" %d', args, None)


def test_probe_filter_hides_only_successful_probes() -> None:
    assert not _not_a_probe(_access("/api/v1/ready", 200))
    assert not _not_a_probe(_access("/api/v1/health", 200))
    assert _not_a_probe(_access("/api/v1/ready", 503))  # a failing probe is news
    assert _not_a_probe(_access("/docs", 200))


def test_progress_lines_one_per_job_event(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    lines: list[str] = []
    # the API is not there: the readiness part says nothing, the jobs part goes on
    progress = UpProgress(
        engine, "http://127.0.0.1:9", after_job_id=0, demo_product=1, echo=lines.append
    )
    with Session(engine) as session:
        ingest = Job(kind=JobKind.kb_ingest, status=JobStatus.running, params={"name": "faq.jsonl"})
        train = Job(
            kind=JobKind.intents_train, status=JobStatus.queued, params={"second_opinion": ""}
        )
        session.add_all([ingest, train])
        session.commit()
        for _ in range(2):  # nothing changed the second time: no new line
            progress._next = 0
            progress.poll()
        assert lines == ["job 1: knowledge faq.jsonl started"]
        ingest.status, ingest.result = JobStatus.succeeded, {"index_version": "i1"}
        ingest.started_at = ingest.finished_at = utcnow()
        train.status, train.error = JobStatus.failed, "cannot train: no examples"
        session.add_all([ingest, train])
        session.commit()
    progress._next = 0
    progress.poll()
    assert lines[1] == "job 1: knowledge faq.jsonl done in 0 s, index i1"
    assert "intent model (fast) failed: cannot train" in lines[2]
    assert progress.training_failed and progress.model_at is None
    engine.dispose()
