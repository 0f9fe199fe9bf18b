"""The OpenAI wire formats of a turn: ``chat.completion.chunk`` events (streamed) and one
``chat.completion`` (not streamed).

Every sentence of a generated answer is checked against the passages before the pipeline lets
it out (``backend.answers.generation``), so what an OpenAI client receives was checked already.
When the pipeline replaces the answer (``Replace``: the generator's text was not grounded, or
looped) before any text was sent, the replacement simply is the completion's content; after
text was sent (every sentence of it supported), a chat client cannot take it back, so the
replacement rides in the ``deskpilot.replace`` extension and the stored message holds it.
A generator failure mid-answer arrives as an ``Error`` event followed by the fallback answer's
tokens. Before any text reached the client, the fallback simply becomes the completion (the
``deskpilot.error`` note says what happened). After text was sent, an OpenAI client cannot take
it back, so the stream ends with an OpenAI ``error`` object (``data: {"error": {...}}``, as vLLM
sends it), which the official SDK raises; the turn is still stored before that.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any, assert_never

import anyio

from backend.answers.events import Done, Error, Meta, Replace, Sources, Token, TurnEvent
from backend.answers.widget_wire import error_payload
from backend.openai_api import schemas
from backend.openai_api.errors import SERVER, error_body

log = logging.getLogger(__name__)
DONE_LINE = b"data: [DONE]\n\n"
STREAM_FAILED = (
    "The answer could not be completed: the generator failed mid-answer. Drop the partial text "
    "and retry the request."
)


def data_line(body: dict[str, Any]) -> bytes:
    """One ``data:`` SSE event with ``body`` as compact JSON."""
    return f"data: {json.dumps(body, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


def deskpilot_fields(conversation_id: int | None, meta: Meta | None) -> dict[str, Any]:
    """The ``deskpilot`` extension: the logged conversation and the gate's verdict."""
    return {
        "conversation_id": conversation_id,
        "route": meta.route if meta else None,
        "intent": meta.intent if meta else None,
        "confidence": meta.confidence if meta else None,
    }


def stream_error(error: Error) -> bytes:
    """The last event of a stream whose answer failed after text was sent (the widget's
    message announces a fallback that an OpenAI client does not get: say what to do instead)."""
    return data_line(error_body(STREAM_FAILED, type=SERVER, code=error.code))


async def stream_chunks(
    events: AsyncGenerator[TurnEvent, None], *, conversation_id: int | None, model: str
) -> AsyncIterator[bytes]:
    """The turn as ``chat.completion.chunk`` events, ending with ``data: [DONE]`` (after an
    ``error`` object when the answer failed once text was sent)."""
    cid = schemas.completion_id()
    extra = deskpilot_fields(conversation_id, None)
    sent_text = False
    failed: Error | None = None

    def chunk(delta: dict[str, Any], note: dict[str, Any] | None = None, **kw: Any) -> bytes:
        return data_line(schemas.chunk(cid=cid, model=model, delta=delta, deskpilot=note, **kw))

    try:
        async for event in events:
            match event:
                case Meta():
                    extra = deskpilot_fields(conversation_id, event)
                    yield chunk({"role": "assistant", "content": ""}, extra)
                case Token(text=text):
                    if failed is None and text:
                        sent_text = True
                        yield chunk({"content": text})
                case Replace(text=text):
                    if failed is None and not sent_text:  # nothing shown yet: it is the answer
                        sent_text = bool(text)
                        if text:
                            yield chunk({"content": text})
                    elif failed is None:
                        # a chat client cannot take text back: the correction rides in the
                        # extension (and in the last chunk's)
                        extra = {**extra, "replace": {"text": text}}
                        yield chunk({}, extra)
                case Error():
                    extra = {**extra, "error": error_payload(event)}
                    if sent_text and event.discard_partial:
                        failed = event  # keep reading: the turn is stored before the stream ends
                case Sources(sources=sources):
                    extra = {**extra, "sources": sources}
                case Done(message_id=message_id):
                    extra = {**extra, "message_id": message_id}
                    if failed is None:
                        yield chunk({}, extra, finish_reason="stop")
                case _:
                    assert_never(event)
        if failed is not None:
            yield stream_error(failed)
    except Exception:  # the client gets an error it can read, not a broken stream
        log.exception("the OpenAI-compatible stream failed")
        yield data_line(error_body("internal server error", type=SERVER, code="internal_error"))
    finally:
        with anyio.CancelScope(shield=True):
            await events.aclose()
    yield DONE_LINE


@dataclass
class Completion:
    """A whole turn gathered for a non-streamed ``chat.completion``."""

    meta: Meta | None = None
    text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    message_id: int | None = None

    def body(
        self, *, conversation_id: int | None, model: str, usage: dict[str, int]
    ) -> dict[str, Any]:
        """The ``chat.completion`` response, with the ``deskpilot`` extension."""
        return schemas.completion(
            cid=schemas.completion_id(),
            model=model,
            text=self.text,
            usage=usage,
            deskpilot={**deskpilot_fields(conversation_id, self.meta), **self.extra},
        )


async def collect(events: AsyncIterator[TurnEvent]) -> Completion:
    """The turn gathered: nothing was sent yet, so after a failure the fallback answer that
    follows is the completion."""
    out = Completion()
    async for event in events:
        match event:
            case Meta():
                out.meta = event
            case Token(text=text):
                out.text += text
            case Replace(text=text):
                out.text = text
            case Error():
                if event.discard_partial:
                    out.text = ""
                out.extra["error"] = error_payload(event)
            case Sources(sources=sources):
                out.extra["sources"] = sources
            case Done(message_id=message_id):
                out.message_id = message_id
                out.extra["message_id"] = message_id
            case _:
                assert_never(event)
    return out
