"""A deterministic stand-in for ``OpenAIChatClient``: same methods, no server.

It answers ``"<first sentence of passage 1> [1]"`` from the prompt format of
``ml.generation.prompt`` (or ``"I don't know."`` when the last user message has no passage), or
a fixed ``answer`` it is given, word by word, and can be told to fail before the first token or
after some tokens.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from ml.generation.client import Finished, GenerationEvent, TextDelta
from ml.generation.errors import GeneratorError, GeneratorUnavailable
from ml.generation.prompt import extract_passages
from ml.interfaces import ChatMessage

DONT_KNOW = "I don't know."
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def fake_answer(messages: Sequence[ChatMessage]) -> str:
    """The answer ``FakeGenerator`` gives to ``messages``."""
    last_user = next((m.content for m in reversed(messages) if m.role == "user"), "")
    passages = extract_passages(last_user)
    if not passages or not passages[0].text.strip():
        return DONT_KNOW
    sentence = _SENTENCE_END.split(passages[0].text.strip(), maxsplit=1)[0]
    return f"{sentence} [1]"


class FakeGenerator:
    """Deterministic fake generator with failure injection; records calls and early closes.

    ``answer`` replaces the passage-copying answer with fixed text (a contradiction, a loop);
    ``fail_before_first`` is raised before any token; ``fail_after_tokens=n`` raises
    ``GeneratorUnavailable`` after ``n`` tokens; ``delay_s`` sleeps before each token. ``calls``
    holds the messages of each call and ``requests`` its sampling arguments (``max_tokens``,
    ``temperature``, penalties); ``cancelled`` counts streams the consumer closed early and
    ``sent`` the words streamed in all.
    """

    def __init__(
        self,
        *,
        model: str = "fake",
        answer: str | None = None,
        fail_after_tokens: int | None = None,
        fail_before_first: GeneratorError | None = None,
        delay_s: float = 0.0,
        healthy: bool = True,
    ) -> None:
        if delay_s < 0 or (fail_after_tokens is not None and fail_after_tokens < 0):
            raise ValueError("delay_s and fail_after_tokens must not be negative")
        self._model = model
        self.answer = answer
        self.fail_after_tokens = fail_after_tokens
        self.fail_before_first = fail_before_first
        self.delay_s = delay_s
        self.healthy = healthy
        self.calls: list[list[ChatMessage]] = []
        self.requests: list[dict[str, Any]] = []
        self.cancelled = 0
        self.sent = 0
        self.closed = False

    @property
    def model(self) -> str:
        """The model name (``fake`` unless told otherwise)."""
        return self._model

    async def stream_events(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
        frequency_penalty: float | None = None,
        repetition_penalty: float | None = None,
    ) -> AsyncGenerator[GenerationEvent, None]:
        """Yield the fake answer word by word (at most ``max_tokens`` words), then ``Finished``."""
        self.calls.append(list(messages))
        self.requests.append(
            {
                "max_tokens": max_tokens,
                "temperature": temperature,
                "frequency_penalty": frequency_penalty,
                "repetition_penalty": repetition_penalty,
            }
        )
        if self.fail_before_first is not None:
            raise self.fail_before_first
        text = fake_answer(messages) if self.answer is None else self.answer
        words = text.split(" ")
        reason = "length" if len(words) > max_tokens else "stop"
        words = words[:max_tokens]
        done = False
        try:
            for i, word in enumerate(words):
                if self.fail_after_tokens is not None and i >= self.fail_after_tokens:
                    raise GeneratorUnavailable("stream ended early")
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                self.sent += 1
                yield TextDelta(word if i == 0 else f" {word}")
            done = True
            prompt_tokens = sum(len(m.content.split()) for m in messages)
            yield Finished(reason, prompt_tokens, len(words))
        except (GeneratorExit, asyncio.CancelledError):
            if not done:
                self.cancelled += 1
            raise

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float = 0.0
    ) -> AsyncGenerator[str, None]:
        """Only the text pieces (as ``OpenAIChatClient.stream``)."""
        events = self.stream_events(messages, max_tokens=max_tokens, temperature=temperature)
        try:
            async for event in events:
                if isinstance(event, TextDelta):
                    yield event.text
        finally:
            await events.aclose()

    async def complete(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float = 0.0
    ) -> tuple[str, Finished]:
        """The whole fake answer and its ``Finished`` event."""
        parts: list[str] = []
        finished = Finished(None, None, None)
        async for event in self.stream_events(
            messages, max_tokens=max_tokens, temperature=temperature
        ):
            if isinstance(event, TextDelta):
                parts.append(event.text)
            else:
                finished = event
        return "".join(parts), finished

    async def health(self, timeout_s: float = 2.0) -> bool:
        """The ``healthy`` flag."""
        return self.healthy

    async def aclose(self) -> None:
        """Mark closed (nothing to release)."""
        self.closed = True


class UncitingGenerator(FakeGenerator):
    """Copies the passage like a small model does, without writing ``[n]``."""

    async def stream_events(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
        frequency_penalty: float | None = None,
        repetition_penalty: float | None = None,
    ) -> AsyncGenerator[GenerationEvent, None]:
        """The fake answer without its citation."""
        events = super().stream_events(
            messages,
            max_tokens=max_tokens,
            temperature=temperature,
            frequency_penalty=frequency_penalty,
            repetition_penalty=repetition_penalty,
        )
        try:
            async for event in events:
                if isinstance(event, TextDelta) and event.text.strip() == "[1]":
                    continue
                yield event
        finally:
            await events.aclose()
