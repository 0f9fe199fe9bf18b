"""Server-Sent Events: the wire format and a streaming response that always closes its body.

Starlette stops iterating a streaming body when the client goes away, but depending on the ASGI
server it may not close the generator; :class:`SSEResponse` closes it (shielded from the
cancellation), so the body's ``finally`` blocks run at once: the upstream LLM request is
cancelled and what was produced is persisted.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


def sse(event: str, data: dict[str, Any], *, event_id: int | str | None = None) -> bytes:
    """One SSE event: ``event:``, optional ``id:``, and the JSON data on one line."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"{head}event: {event}\ndata: {payload}\n\n".encode()


class SSEResponse(StreamingResponse):
    """A ``text/event-stream`` response whose body generator is always closed."""

    media_type = "text/event-stream"

    def __init__(self, body: AsyncIterator[bytes], status_code: int = 200) -> None:
        super().__init__(body, status_code=status_code, headers=HEADERS)
        self._body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                aclose = getattr(self._body, "aclose", None)
                if aclose is not None:
                    await aclose()
