"""The SSE event stream against a real uvicorn server (TestClient would buffer the stream)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend.conversations import service as conversations
from backend.conversations.models import Conversation, ConversationStatus, MessageRole
from backend.core import migrate
from backend.core.db import make_engine
from backend.core.settings import load_settings
from backend.main import create_app
from backend.widget import events, service
from backend.widget.models import SiteKeyCreate
from tests.factories import make_product
from tests.procs import free_port, wait_for
from tests.widget.helpers import SHOP, SSEReader, visitor_headers

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass
class Server:
    base: str
    app: FastAPI
    engine: Engine
    site_key: str

    def start(self) -> tuple[int, dict[str, str]]:
        """A new conversation as a visitor on SHOP: (id, the visitor's headers)."""
        resp = httpx.post(
            f"{self.base}/api/v1/widget/conversations",
            json={"site_key": self.site_key},
            headers={"Origin": SHOP},
        )
        assert resp.status_code == 201, resp.text
        body = resp.json()
        return body["conversation"]["id"], visitor_headers(body["visitor_token"])

    def events_url(self, conversation_id: int) -> str:
        return f"{self.base}/api/v1/widget/conversations/{conversation_id}/events"

    def write(self, conversation_id: int, text: str) -> int:
        """An agent-side write in another thread: store a message, then publish (as routes do)."""
        with Session(self.engine) as session:
            conversation = session.get(Conversation, conversation_id)
            assert conversation is not None
            message = conversations.add_message(
                session=session, conversation=conversation, role=MessageRole.agent, text=text
            )
        self.app.state.events.publish(conversation_id)
        return message.id or 0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("sse")
    url = f"sqlite:///{tmp / 'sse.sqlite3'}"
    migrate.upgrade(url)
    settings = load_settings(database_url=url, data_dir=tmp / "var", llm_base_url="")
    app = create_app(settings)
    engine = make_engine(url)
    with Session(engine) as session:
        product = make_product(session)
        key = service.create_site_key(
            session=session,
            product_id=product.id or 0,
            data=SiteKeyCreate(allowed_origins=[SHOP]),
        )
        public_id = key.public_id
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    with pytest.MonkeyPatch.context() as mp:
        # Pings and the safety-net re-read far apart: a live event arriving fast proves the bus
        # woke the stream.
        mp.setattr(events, "PING_SECONDS", 30.0)
        mp.setattr(events, "POLL_SECONDS", 30.0)
        thread.start()
        try:
            wait_for(lambda: srv.started, 90, "uvicorn to start")
            yield Server(f"http://127.0.0.1:{port}", app, engine, public_id)
        finally:
            srv.should_exit = True
            thread.join(30)
            engine.dispose()


def test_replay_then_live_events_until_closed(server: Server) -> None:
    cid, headers = server.start()
    server.write(cid, "one")
    server.write(cid, "two")
    server.write(cid, "three")
    with Session(server.engine) as session:
        ids = [
            e.id or 0
            for e in conversations.events_after(session=session, conversation_id=cid, after_id=0)
        ]
    assert len(ids) == 3

    # Replay: exactly the events after Last-Event-ID (header, or the query parameter).
    for extra in ({"Last-Event-ID": str(ids[0])}, {}):
        url = server.events_url(cid) + ("" if extra else f"?last_event_id={ids[0]}")
        reader = SSEReader(url, {**headers, **extra})
        assert reader.status == 200 and reader.response_headers is not None
        assert reader.response_headers["content-type"].startswith("text/event-stream")
        assert reader.response_headers["cache-control"] == "no-cache"
        assert reader.response_headers["x-accel-buffering"] == "no"
        got = reader.events(2)
        assert [int(e["id"]) for e in got] == ids[1:]
        assert [e["data"]["text"] for e in got] == ["two", "three"]
        assert got[0]["event"] == "message" and "trace" not in got[0]["data"]
        reader.assert_quiet(0.5)
        reader.close()

    # Live: the stream sleeps on the bus (no re-read for 30 s); a write elsewhere wakes it.
    reader = SSEReader(server.events_url(cid), {**headers, "Last-Event-ID": str(ids[-1])})
    assert reader.next(5, comments=True) == {"comment": "connected"}
    time.sleep(0.5)  # the stream has done its first read and is waiting on the bus
    started = time.monotonic()
    writer = threading.Thread(target=server.write, args=(cid, "live from an agent"))
    writer.start()
    writer.join()
    (live,) = reader.events(1, timeout=10)
    assert live["data"]["text"] == "live from an agent" and int(live["id"]) > ids[-1]
    assert time.monotonic() - started < 5, "the bus did not wake the stream"

    # The visitor's handoff (a route in the same server) arrives live too: message, then status.
    started = time.monotonic()
    resp = httpx.post(f"{server.base}/api/v1/widget/conversations/{cid}/handoff", headers=headers)
    assert resp.status_code == 200 and resp.json()["status"] == "waiting_for_agent"
    message, status = reader.events(2, timeout=10)
    assert message["event"] == "message" and message["data"]["role"] == "system"
    assert status["event"] == "status" and status["data"]["status"] == "waiting_for_agent"
    assert time.monotonic() - started < 5

    # Closing ends the stream after the status event.
    with Session(server.engine) as session:
        conversation = session.get(Conversation, cid)
        assert conversation is not None
        conversations.set_status(
            session=session, conversation=conversation, status=ConversationStatus.closed
        )
    server.app.state.events.publish(cid)
    (closed,) = reader.events(1, timeout=10)
    assert closed["data"]["status"] == "closed"
    assert reader.next(5) is None  # the server ended the stream
    reader.close()
    # Reconnecting with nothing left to replay: 204 (EventSource stops reconnecting).
    resp = httpx.get(
        server.events_url(cid), headers={**headers, "Last-Event-ID": closed["id"]}, timeout=10
    )
    assert resp.status_code == 204
    # Without Last-Event-ID the whole conversation is replayed, ending with the close.
    reader = SSEReader(server.events_url(cid), headers)
    frames = []
    while (frame := reader.next(10)) is not None:
        frames.append(frame)
    assert len(frames) == 7 and frames[-1]["event"] == "status"
    reader.close()


def test_pings_cors_and_disconnect(server: Server) -> None:
    cid, headers = server.start()
    # A preflight answered from the database through the app's engine.
    preflight = {"Origin": SHOP, "Access-Control-Request-Method": "GET"}
    resp = httpx.options(server.events_url(cid), headers=preflight)
    assert resp.status_code == 204 and resp.headers["access-control-allow-origin"] == SHOP
    resp = httpx.options(server.events_url(cid), headers={**preflight, "Origin": "https://x.org"})
    assert resp.status_code == 403

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(events, "PING_SECONDS", 0.3)  # for the stream opened now
        before = events.open_streams()
        # An EventSource cannot set headers: the token may come in the query string.
        token = headers["X-Deskpilot-Visitor"]
        reader = SSEReader(f"{server.events_url(cid)}?visitor_token={token}", {"Origin": SHOP})
    assert reader.status == 200 and reader.response_headers is not None
    assert reader.response_headers["access-control-allow-origin"] == SHOP
    assert reader.next(5, comments=True) == {"comment": "connected"}
    assert reader.next(5, comments=True) == {"comment": "ping"}
    assert reader.next(5, comments=True) == {"comment": "ping"}
    assert events.open_streams() == before + 1
    reader.close()  # the browser goes away: the server stops the stream
    wait_for(lambda: events.open_streams() == before, 10, "the stream to stop")

    # A token used from another origin is refused before any streaming.
    resp = httpx.get(server.events_url(cid), headers={**headers, "Origin": "https://x.org"})
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "origin_not_allowed"
