"""Short progress lines for the `make run` console: the jobs `up` queued (ingestion, training)
as they start and finish, the intent model the API serves, and the generator coming up.

Read from the database (the jobs table) and the API's ``/api/v1/ready``, every few seconds, by
the supervisor: the children keep their own logs, and people see one line per event instead of
a probe every 5 seconds."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from backend.jobs.kinds import JobKind
from backend.jobs.models import Job, JobStatus

POLL_S = 2.0


def _what(job: Job) -> str:
    """A few words naming the job, for people."""
    params = job.params or {}
    if job.kind == JobKind.intents_train:
        stage = "fast" if params.get("second_opinion") == "" else "full"
        return f"intent model ({stage})"
    if job.kind == JobKind.intents_second_opinion:
        return "intent model (with its second opinion)"
    if job.kind == JobKind.kb_ingest:
        return f"knowledge {params.get('name') or 'document'}"
    return job.kind


def _outcome(job: Job) -> str:
    result = job.result or {}
    if job.kind.startswith("intents.") and "version" in result:
        state = "active" if result.get("active") else "trained, not active:"
        return f"{state} {result['version']}"
    if "index_version" in result:
        return f"index {result['index_version']}"
    return ""


def _seconds(job: Job) -> float:
    if job.started_at is None or job.finished_at is None:
        return 0.0
    return (job.finished_at - job.started_at).total_seconds()


class UpProgress:
    """Polls jobs newer than ``after_job_id`` and the API's readiness; ``echo`` prints a line."""

    def __init__(
        self,
        engine: Engine,
        base_url: str,
        *,
        after_job_id: int,
        demo_product: int | None,
        echo: Callable[[str], None],
    ) -> None:
        self.engine = engine
        self.demo_product = demo_product
        self.base_url = base_url
        self.after = after_job_id
        self.echo = echo
        self.ready_at: float | None = None
        self.model_at: float | None = None  # when the API first served an intent model
        self.generator_up = False
        self.training_failed = False  # a demo training job failed: nothing to wait for
        self._seen: dict[int, JobStatus] = {}
        self._serving: dict[int, tuple[str | None, str]] = {}
        self._errors: dict[int, str] = {}
        self._next = 0.0

    def poll(self) -> None:
        """Print what changed since the last poll (at most every ``POLL_S``)."""
        if time.monotonic() < self._next:
            return
        self._next = time.monotonic() + POLL_S
        try:
            self._jobs()
        except Exception:  # a locked SQLite file, say: the next poll will do
            self._next += POLL_S
        self._ready()

    def _jobs(self) -> None:
        with Session(self.engine) as session:
            jobs = session.exec(
                select(Job).where(col(Job.id) > self.after).order_by(col(Job.id))
            ).all()
        for job in jobs:
            if self._seen.get(job.id or 0) == job.status:
                continue
            self._seen[job.id or 0] = job.status
            who = "demo" if job.product_id == self.demo_product else f"job {job.id}"
            if job.status == JobStatus.running:
                self.echo(f"{who}: {_what(job)} started")
            elif job.status == JobStatus.succeeded:
                outcome = _outcome(job)
                done = f"{who}: {_what(job)} done in {_seconds(job):.0f} s"
                self.echo(f"{done}, {outcome}" if outcome else done)
            elif job.status == JobStatus.failed:
                self.training_failed |= job.kind == JobKind.intents_train
                self.echo(f"[red]{who}: {_what(job)} {job.status}: {job.error or ''}[/]")

    def _ready(self) -> None:
        try:
            with urllib.request.urlopen(  # noqa: S310 (loopback URL)
                f"{self.base_url}/api/v1/ready", timeout=2
            ) as resp:
                body: dict[str, Any] = json.loads(resp.read())
        except OSError as exc:
            body = json.loads(exc.read()) if hasattr(exc, "read") else {}
        except ValueError:
            return
        now = time.monotonic()
        for entry in body.get("intent") or []:
            key = (entry.get("version"), str(entry.get("stage")))
            product = int(entry.get("product_id", 0))
            if key[0] and self._serving.get(product) != key:
                self._serving[product] = key
                since = f", {now - self.ready_at:.0f} s after ready" if self.ready_at else ""
                stage = key[1].replace("_", " ")
                self.echo(f"API: serving intent model {key[0]} ({stage}){since}")
                self.model_at = self.model_at or now
            error = str(entry.get("error") or "")
            if error and self._errors.get(product) != error:
                self.echo(f"[yellow]API: {error}[/]")
            self._errors[product] = error
        generator = ((body.get("checks") or {}).get("generator") or {}).get("detail", "")
        up = str(generator).startswith("up")
        if up != self.generator_up:
            self.generator_up = up
            self.echo(f"generator: {generator}")
