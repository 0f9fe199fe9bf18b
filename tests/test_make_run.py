"""`make run` smoke test: on a free port with a temporary data directory (reusing the built
environment), the API gets ready, the admin logs in, the embedded worker runs a job on SQLite,
the console shows the demo knowledge's progress without routine probes, and one Ctrl-C stops
every process it started (other endings: tests/cli/test_up_orphans.py)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.procs import ROOT, free_port, processes_using, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_make_run_starts_everything_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKPILOT_")}
    env.update(
        PORT=str(port),
        DESKPILOT_DATA_DIR=str(data_dir),
        DESKPILOT_ADMIN_EMAIL="owner@example.com",
        DESKPILOT_ADMIN_PASSWORD="smoke-test-password",
        # tests/live starts vLLM through the same code (backend/cli/vllm_proc.py); here it
        # would only hold 4 GiB and a core while the demo model trains
        DESKPILOT_VLLM_AUTOSTART="false",
        # minutes of CPU (the fast model, then mpnet's second opinion) that this test never
        # looks at: tests/cli/test_up_orphans.py and bench/first_run.py cover the first run
        DESKPILOT_INTENT_DEMO_TRAINING="false",
    )
    log = open(tmp_path / "make-run.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        ["make", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        ready = wait_for(
            lambda: (r := httpx.get(f"{base}/api/v1/ready", timeout=5)).status_code == 200 and r,
            180,
            "make run to become ready",
            every=1,
        )
        assert set(ready.json()["checks"]) >= {"database", "broker"}
        assert (data_dir / "deskpilot.sqlite3").exists() and (data_dir / "broker.sqlite3").exists()
        token = httpx.post(
            f"{base}/api/v1/auth/login",
            json={"email": "owner@example.com", "password": "smoke-test-password"},
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        products = httpx.get(f"{base}/api/v1/products", headers=headers).json()
        demo = next(p for p in products if p["slug"] == "demo-bank")
        job = httpx.post(
            f"{base}/api/v1/admin/products/{demo['id']}/jobs/selfcheck",
            json={"steps": 2, "step_seconds": 0.1},
            headers=headers,
        ).json()
        wait_for(
            lambda: (
                httpx.get(f"{base}/api/v1/admin/jobs/{job['id']}", headers=headers).json()["status"]
                == "succeeded"
            ),
            240,
            "the embedded worker to run the job",
            every=0.5,
        )
        # The demo knowledge is ingested by the worker on first run, then searchable.
        admin = f"{base}/api/v1/admin/products/{demo['id']}"
        wait_for(
            lambda: (
                {d["name"] for d in httpx.get(f"{admin}/documents", headers=headers).json()}
                == {"faq.jsonl", "terms-and-fees.md"}
            ),
            240,
            "the demo knowledge to be ingested",
            every=1,
        )

        def top_category() -> str | None:
            hits = httpx.post(
                f"{admin}/knowledge/search",
                json={"query": "I ordered a card two weeks ago and it never came"},
                headers=headers,
            ).json()["hits"]
            return hits[0]["category"] if hits else None

        assert wait_for(top_category, 30, "the API to serve the new index") == "card_arrival"
        # the console's progress line for it (`up` polls the jobs every 2 s)
        wait_for(
            lambda: "demo: knowledge faq.jsonl done in" in (tmp_path / "make-run.log").read_text(),
            30,
            "the console's progress line",
        )
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        try:
            proc.wait(timeout=60)
        finally:
            log.close()
    wait_for(lambda: not processes_using(data_dir), 30, "every child to exit")
    output = (tmp_path / "make-run.log").read_text()
    assert "deskpilot is running" in output and f"{base}/docs" in output
    assert "not starting the local vLLM server: DESKPILOT_VLLM_AUTOSTART is off" in output
    assert "smoke-test-password" not in output  # a password from the environment is never echoed
    # the console is for people: one line per job, no routine probes (this test polled /ready)
    assert '"GET /api/v1/ready HTTP/1.1" 200' not in output
