"""Two real API processes on PostgreSQL and Redis: an event written through one reaches a stream
open on the other."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from backend.widget import service
from backend.widget.models import SiteKeyCreate
from tests.factories import make_product
from tests.procs import Procs, free_port
from tests.stack import running_stack
from tests.widget.helpers import SHOP, SSEReader, visitor_headers

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    env = {
        "DESKPILOT_REDIS_URL": REDIS_URL,
        "DESKPILOT_LLM_BASE_URL": "",
        "DESKPILOT_LOG_LEVEL": "WARNING",
    }
    with running_stack(tmp_path, "deskpilot_sse", env=env) as running:
        with running.session() as session:
            product = make_product(session)
            key = service.create_site_key(
                session=session,
                product_id=product.id or 0,
                data=SiteKeyCreate(allowed_origins=[SHOP]),
            )
            public_id = key.public_id
        yield {"procs": running.procs, "site_key": public_id}


def test_event_written_on_a_reaches_a_stream_on_b(stack: dict[str, Any]) -> None:
    procs: Procs = stack["procs"]
    base_a = procs.start_api(free_port())
    b = procs.start_api(free_port())  # both log to api.log

    started = httpx.post(
        f"{base_a}/api/v1/widget/conversations",
        json={"site_key": stack["site_key"]},
        headers={"Origin": SHOP},
    )
    assert started.status_code == 201, started.text
    cid = started.json()["conversation"]["id"]
    headers = visitor_headers(started.json()["visitor_token"])

    # Watch the Redis channel too: process A must publish there.
    watcher = redis.Redis.from_url(REDIS_URL).pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    watcher.subscribe(f"deskpilot:conv:{cid}")
    published = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not published.is_set():
            if watcher.get_message(timeout=0.5) is not None:
                published.set()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    reader = SSEReader(f"{b}/api/v1/widget/conversations/{cid}/events", headers)
    try:
        assert reader.status == 200
        assert reader.next(10, comments=True) == {"comment": "connected"}
        resp = httpx.post(f"{base_a}/api/v1/widget/conversations/{cid}/handoff", headers=headers)
        assert resp.status_code == 200, resp.text
        message, status = reader.events(2, timeout=15)
        assert message["event"] == "message" and message["data"]["role"] == "system"
        assert status["event"] == "status" and status["data"]["status"] == "waiting_for_agent"
        thread.join(20)
        assert published.is_set(), "process A did not publish the change on Redis"
    finally:
        reader.close()
        watcher.close()
