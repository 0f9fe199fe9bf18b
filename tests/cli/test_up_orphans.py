"""`deskpilot up` leaves nothing running, however it ends: Ctrl-C is in tests/test_make_run.py;
here SIGTERM and SIGHUP (a closed terminal), which it handles, and SIGKILL, which it cannot (its
reaper then stops every child's process group). Cheap configuration: no vLLM, no demo model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.procs import ROOT, free_port, processes_using, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.parametrize(
    "sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP], ids=["kill", "term", "hup"]
)
def test_no_child_outlives_up(tmp_path: Path, sig: signal.Signals) -> None:
    data_dir = tmp_path / "var"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKPILOT_")}
    env.update(
        DESKPILOT_DATA_DIR=str(data_dir),
        DESKPILOT_ADMIN_PASSWORD="orphan-test-password",
        DESKPILOT_VLLM_AUTOSTART="false",
        DESKPILOT_INTENT_DEMO_TRAINING="false",
        # the session's model cache: the query embedder's ONNX graph is exported once
        DESKPILOT_MODEL_CACHE=os.environ["DESKPILOT_MODEL_CACHE"],
    )
    log = open(tmp_path / "up.log", "wb")  # noqa: SIM115
    up = subprocess.Popen(
        [sys.executable, "-m", "backend.cli.main", "up", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # nothing but the signal under test reaches it
    )
    try:
        wait_for(
            lambda: (
                httpx.get(f"http://127.0.0.1:{port}/api/v1/ready", timeout=5).status_code == 200
            ),
            240,
            "deskpilot up to become ready",
            every=1,
        )
        children = set(processes_using(data_dir)) - {up.pid}
        # worker (and its pool), beat, API, and the reaper
        assert len(children) >= 4, (children, (tmp_path / "up.log").read_text()[-2000:])
        os.kill(up.pid, sig)
        up.wait(timeout=60)
        wait_for(lambda: not processes_using(data_dir), 60, "every child to exit", every=0.5)
    finally:
        for pid in processes_using(data_dir):  # never leave a failed test's processes behind
            os.kill(pid, signal.SIGKILL)
        if up.poll() is None:
            up.kill()
            up.wait()
        log.close()
    if sig != signal.SIGKILL:
        assert "stopping ..." in (tmp_path / "up.log").read_text()
