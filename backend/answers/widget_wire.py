"""The widget's wire format of a turn: SSE events (``meta``, ``token``, ``replace``, ``error``,
``sources``, ``done``) and, for ``?stream=false``, one JSON document.

The event names and JSON payloads are a contract with ``frontend/widget`` (``turn.ts``): the
widget drops the streamed text on an ``error`` with ``discard_partial`` and shows the fallback
answer that follows.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any, assert_never

import anyio

from backend.answers.events import Done, Error, Meta, Replace, Sources, Token, TurnEvent
from backend.answers.sse import sse


def meta_payload(meta: Meta) -> dict[str, Any]:
    """The ``meta`` event's data (``model`` only on the ``llm`` route)."""
    data: dict[str, Any] = {
        "intent": meta.intent,
        "confidence": meta.confidence,
        "out_of_scope": meta.out_of_scope,
        "reason": meta.reason,
        "llm_available": meta.llm_available,
        "route": meta.route,
    }
    if meta.model is not None:
        data["model"] = meta.model
    return data


def error_payload(error: Error) -> dict[str, Any]:
    """The ``error`` event's data."""
    return {"code": error.code, "message": error.message, "discard_partial": error.discard_partial}


def event_payload(event: TurnEvent) -> tuple[str, dict[str, Any]]:
    """The SSE event name and JSON data of ``event``."""
    match event:
        case Meta():
            return "meta", meta_payload(event)
        case Token(text=text):
            return "token", {"text": text}
        case Replace(text=text):
            return "replace", {"text": text}
        case Error():
            return "error", error_payload(event)
        case Sources(sources=sources):
            return "sources", {"sources": sources}
        case Done(message_id=message_id):
            return "done", {"message_id": message_id}
        case _:
            assert_never(event)


async def as_sse(events: AsyncGenerator[TurnEvent, None]) -> AsyncIterator[bytes]:
    """Events as SSE bytes; closing this closes ``events`` too (so its cleanup runs now)."""
    try:
        async for event in events:
            yield sse(*event_payload(event))
    finally:
        with anyio.CancelScope(shield=True):
            await events.aclose()


@dataclass
class Collected:
    """A whole turn gathered for ``?stream=false``: the document less the stored message."""

    meta: dict[str, Any] | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    message_id: int | None = None

    def document(self, message: dict[str, Any] | None) -> dict[str, Any]:
        """``{"message", "meta", "sources", "error"}`` with the stored bot message."""
        return {
            "meta": self.meta,
            "sources": self.sources,
            "error": self.error,
            "message": message,
        }


async def collect(events: AsyncIterator[TurnEvent]) -> Collected:
    """The non-streaming variant: the same turn, gathered (the text is the stored message's)."""
    out = Collected()
    async for event in events:
        match event:
            case Meta():
                out.meta = meta_payload(event)
            case Error():
                out.error = error_payload(event)
            case Sources(sources=sources):
                out.sources = sources
            case Done(message_id=message_id):
                out.message_id = message_id
            case Token() | Replace():
                pass  # the stored message holds the final text
            case _:
                assert_never(event)
    return out
