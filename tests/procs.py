"""Start real deskpilot processes (API, worker) for integration tests, and always stop them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, OSError):
            last = predicate()
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Procs:
    """Children started in their own process groups, killed (whole group) on close."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = {**os.environ, **env}
        self.log_dir = log_dir
        self.children: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 (kept open for the child)
        proc = subprocess.Popen(
            [sys.executable, "-m", "backend.cli.main", *args],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.children.append(proc)
        return proc

    def start_api(self, port: int) -> str:
        proc = self.start("api", "serve", "--port", str(port))
        base = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            assert proc.poll() is None, f"API exited: {self.log('api')}"
            return httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200

        # the first start of a data folder also exports the ONNX query embedder (seconds)
        wait_for(healthy, 150, "the API to answer /health")
        return base

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def close(self) -> None:
        for proc in self.children:
            self.kill(proc)


def processes_using(data_dir: Path) -> list[int]:
    """Every process started with this data folder in its environment."""
    marker = f"DESKPILOT_DATA_DIR={data_dir}".encode()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.append(int(pid))
    return found


def agent_conversation(base: str, headers: dict[str, str], conversation_id: int) -> dict[str, Any]:
    """The agent API's view of a conversation (messages with traces and feedback)."""
    resp = httpx.get(
        f"{base}/api/v1/agent/conversations/{conversation_id}", headers=headers, timeout=10
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())
