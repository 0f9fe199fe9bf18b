"""The events of a streamed OpenAI chat completion, parsed from its server-sent events.

``events_from_sse`` turns the SSE lines of ``POST /chat/completions`` (``stream: true``) into
``TextDelta`` pieces and one ``Finished``; malformed chunks and early ends raise
``ml.generation.errors`` exceptions.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

from ml.generation.errors import (
    GeneratorHTTPError,
    GeneratorProtocolError,
    GeneratorUnavailable,
    error_message,
)


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer's text, in arrival order (never empty)."""

    text: str


@dataclass(frozen=True)
class Finished:
    """The last event of a successful stream: why it stopped and the server's token counts."""

    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None


GenerationEvent = TextDelta | Finished


async def events_from_sse(lines: AsyncIterator[str]) -> AsyncGenerator[GenerationEvent, None]:
    """Parse SSE lines into events; enforce ``[DONE]`` or a finish reason before the end."""
    state = _StreamState()
    data: list[str] = []
    async for line in lines:
        if line == "":
            if data:
                payload, data = "\n".join(data), []
                if payload == "[DONE]":
                    yield state.finished()
                    return
                for event in state.chunk(payload):
                    yield event
            continue
        if line.startswith(":"):
            continue  # comment / keep-alive
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
        # Other fields (event, id, retry) carry nothing for chat completions.
    if data == ["[DONE]"]:  # a last event without its blank line
        yield state.finished()
        return
    if state.finish_reason is None:
        raise GeneratorUnavailable("stream ended early")
    yield state.finished()


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _StreamState:
    """What one stream has said so far: finish reason and token usage."""

    def __init__(self) -> None:
        self.finish_reason: str | None = None
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None

    def finished(self) -> Finished:
        return Finished(self.finish_reason, self.prompt_tokens, self.completion_tokens)

    def chunk(self, payload: str) -> list[TextDelta]:
        """Validate one ``chat.completion.chunk`` and return its text (zero or one delta)."""
        try:
            obj = json.loads(payload)
        except ValueError as exc:
            raise GeneratorProtocolError("malformed JSON in stream chunk") from exc
        if not isinstance(obj, dict):
            raise GeneratorProtocolError("stream chunk is not a JSON object")
        if "error" in obj:
            err = obj["error"]
            code = err.get("code") if isinstance(err, dict) else None
            status = _int(code)
            raise GeneratorHTTPError(f"LLM error: {error_message(obj)[:200]}", status=status)
        usage = obj.get("usage")
        if isinstance(usage, dict):
            self.prompt_tokens = _int(usage.get("prompt_tokens"))
            self.completion_tokens = _int(usage.get("completion_tokens"))
        choices = obj.get("choices")
        if not isinstance(choices, list):
            raise GeneratorProtocolError("stream chunk has no choices list")
        if not choices:
            return []
        choice = choices[0]
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if not isinstance(choice, dict) or (delta is not None and not isinstance(delta, dict)):
            raise GeneratorProtocolError("stream chunk has a malformed choice")
        reason = choice.get("finish_reason")
        if isinstance(reason, str):
            self.finish_reason = reason
        content = (delta or {}).get("content")
        if content is not None and not isinstance(content, str):
            raise GeneratorProtocolError("stream chunk content is not a string")
        return [TextDelta(content)] if content else []
