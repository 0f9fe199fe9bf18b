"""The visitor's live event stream (Server-Sent Events) for one conversation.

Each ``conversation_event`` row is sent as ``id: <row id>`` / ``event: <kind>`` /
``data: <json payload>``. A stream first replays the rows after the client's ``Last-Event-ID``,
then sleeps on the event bus and reads the new rows back from the database on every wake-up and
at least every ``poll_s`` seconds (the safety net: delivery never depends on pub/sub). It sends a
``: ping`` comment every ``ping_s`` seconds, and ends when the client goes away or after the
``status`` event that closes the conversation. Each database read uses a fresh session in the
threadpool; nothing is held open between reads.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from backend.conversations import service as conversations
from backend.conversations.bus import EventBus
from backend.conversations.models import ConversationStatus

log = logging.getLogger(__name__)
PING_SECONDS = 15.0  # keep-alive comment (proxies drop idle connections)
POLL_SECONDS = 1.0  # database re-read when no wake-up came
READ_BATCH = 500
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_open_streams = 0


@dataclass(frozen=True)
class StreamEvent:
    """One event row, detached from its session."""

    id: int
    kind: str
    payload: dict[str, Any]

    def encode(self) -> str:
        """The SSE frame of this event."""
        data = json.dumps(self.payload, separators=(",", ":"), default=str)
        return f"id: {self.id}\nevent: {self.kind}\ndata: {data}\n\n"

    @property
    def closes(self) -> bool:
        """True for the status event that closes the conversation (the stream's last)."""
        return self.kind == "status" and self.payload.get("status") == ConversationStatus.closed


def open_streams() -> int:
    """How many event streams this process is serving now."""
    return _open_streams


def read_events(engine: Engine, conversation_id: int, after_id: int) -> list[StreamEvent]:
    """The conversation's events after ``after_id`` (at most READ_BATCH), in a fresh session."""
    with Session(engine) as session:
        rows = conversations.events_after(
            session=session, conversation_id=conversation_id, after_id=after_id, limit=READ_BATCH
        )
        return [StreamEvent(r.id or 0, r.kind, dict(r.payload)) for r in rows]


async def event_stream(
    request: Request,
    *,
    engine: Engine,
    bus: EventBus,
    conversation_id: int,
    after_id: int,
    ping_s: float = PING_SECONDS,
    poll_s: float = POLL_SECONDS,
) -> AsyncIterator[str]:
    """SSE frames for the conversation: the replay after ``after_id``, then live events."""
    global _open_streams
    _open_streams += 1
    last_id = after_id
    try:
        yield ": connected\n\n"
        next_ping = time.monotonic() + ping_s
        while True:
            try:
                batch = await run_in_threadpool(read_events, engine, conversation_id, last_id)
            except SQLAlchemyError as exc:  # end cleanly: the client reconnects with its last id
                log.warning("event stream of conversation %s: %s", conversation_id, exc)
                return
            for event in batch:
                yield event.encode()
                last_id = event.id
                if event.closes:
                    return
            if len(batch) == READ_BATCH:
                continue  # more to replay at once
            if await request.is_disconnected():
                return
            now = time.monotonic()
            if now >= next_ping:
                yield ": ping\n\n"
                next_ping = now + ping_s
            await bus.wait(conversation_id, max(0.01, min(poll_s, next_ping - now)))
    finally:
        _open_streams -= 1
        log.debug("event stream of conversation %s ended at event %s", conversation_id, last_id)


def stream_response(request: Request, *, conversation_id: int, after_id: int) -> StreamingResponse:
    """The ``text/event-stream`` response for the conversation (engine and bus of ``app.state``)."""
    state = request.app.state
    stream = event_stream(
        request,
        engine=state.engine,
        bus=state.events,
        conversation_id=conversation_id,
        after_id=after_id,
        ping_s=PING_SECONDS,
        poll_s=POLL_SECONDS,
    )
    return StreamingResponse(stream, media_type="text/event-stream", headers=HEADERS)
