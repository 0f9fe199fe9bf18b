"""Streaming client for any OpenAI-compatible chat-completions server (vLLM is the one shipped).

The stream is parsed by ``ml.generation.sse`` (whose events this module re-exports). Errors
are mapped once to ``ml.generation.errors``; a failed attempt is retried (bounded, with
backoff) only while no text has reached the caller. Closing the stream (``break``, ``aclose()``,
task cancellation) closes the HTTP response at once, which makes vLLM abort the request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import Any
from urllib.parse import urlsplit

import httpx

from ml.generation.errors import (
    GeneratorError,
    GeneratorProtocolError,
    GeneratorTimeout,
    GeneratorUnavailable,
    error_for_status,
)
from ml.generation.sse import Finished, GenerationEvent, TextDelta, events_from_sse
from ml.interfaces import ChatMessage

__all__ = ["Finished", "GenerationEvent", "OpenAIChatClient", "TextDelta", "normalise_base_url"]
log = logging.getLogger(__name__)


def normalise_base_url(base_url: str) -> str:
    """``http://host:8001/v1/`` -> ``http://host:8001/v1``; a root URL (no path) gets ``/v1``."""
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
    if parts.path in ("", "/"):
        url += "/v1"
    return url


def sampling_penalties(
    frequency_penalty: float | None, repetition_penalty: float | None
) -> dict[str, float]:
    """The penalty fields of a request: none for unset (``None``/0) or neutral values; raise
    ``ValueError`` outside what the servers accept (-2..2; > 0)."""
    out: dict[str, float] = {}
    if frequency_penalty:
        if not -2.0 <= frequency_penalty <= 2.0:
            raise ValueError("frequency_penalty must be within -2..2")
        out["frequency_penalty"] = frequency_penalty
    if repetition_penalty and repetition_penalty != 1.0:
        if repetition_penalty < 0:
            raise ValueError("repetition_penalty must be positive")
        out["repetition_penalty"] = repetition_penalty
    return out


class OpenAIChatClient:
    """Async client for ``POST {base}/chat/completions`` with ``stream: true``.

    ``base_url`` is the API base, e.g. ``http://127.0.0.1:8001/v1`` (a trailing slash is fine; a
    bare root such as ``http://127.0.0.1:8001`` gets ``/v1`` appended; any other path is kept as
    is). ``read_timeout_s`` bounds the wait for each chunk, i.e. a stall between tokens.
    ``retries`` extra attempts are made for retryable errors before the first token only. One
    ``httpx.AsyncClient`` is shared by all calls; it is created lazily in the running event loop
    and closed by ``aclose()``.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        connect_timeout_s: float = 2.0,
        read_timeout_s: float = 15.0,
        retries: int = 1,
        retry_backoff_s: float = 0.2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not model.strip():
            raise ValueError("model must not be empty")
        if connect_timeout_s <= 0 or read_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        if retries < 0 or retry_backoff_s < 0:
            raise ValueError("retries and retry_backoff_s must not be negative")
        self._base = normalise_base_url(base_url)
        self._root = self._base[:-3] if self._base.endswith("/v1") else self._base
        self._model = model
        self._api_key = api_key
        self._timeout = httpx.Timeout(
            connect=connect_timeout_s,
            read=read_timeout_s,
            write=read_timeout_s,
            pool=read_timeout_s,
        )
        self._read_timeout_s = read_timeout_s
        self._retries = retries
        self._backoff = retry_backoff_s
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def model(self) -> str:
        """The served model name sent in every request."""
        return self._model

    @property
    def base_url(self) -> str:
        """The normalised API base URL (ends with the API version path, e.g. ``/v1``)."""
        return self._base

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            # A client is bound to the loop that made it; a new loop (tests) needs a new one.
            headers = {"Accept": "text/event-stream"}
            if self._api_key:
                headers["Authorization"] = f"Bearer {self._api_key}"
            self._client = httpx.AsyncClient(
                timeout=self._timeout, transport=self._transport, headers=headers
            )
            self._loop = loop
        return self._client

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
        """Yield ``TextDelta`` pieces, then exactly one ``Finished``; raise ``GeneratorError``.

        ``frequency_penalty`` (OpenAI, -2..2) and ``repetition_penalty`` (vLLM's extension, > 0,
        1 is neutral) are sent only when set to something else than their neutral value, so a
        server without the extension still gets a request it accepts."""
        if not messages:
            raise ValueError("messages must not be empty")
        if max_tokens < 1 or temperature < 0:
            raise ValueError("max_tokens must be >= 1 and temperature >= 0")
        payload: dict[str, Any] = {
            "model": self._model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if stop:
            payload["stop"] = list(stop)
        payload.update(sampling_penalties(frequency_penalty, repetition_penalty))
        attempt = 0
        while True:
            yielded = False
            try:
                async with aclosing(self._attempt(payload)) as events:
                    async for event in events:
                        yielded = yielded or isinstance(event, TextDelta)
                        yield event
                return
            except GeneratorError as exc:
                if yielded or not exc.retryable or attempt >= self._retries:
                    raise
                attempt += 1
                log.warning("LLM request failed (%s); retry %d/%d", exc, attempt, self._retries)
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))

    async def _attempt(self, payload: dict[str, Any]) -> AsyncGenerator[GenerationEvent, None]:
        """One HTTP request, its errors mapped to ``GeneratorError``."""
        opened = False
        try:
            async with self._http().stream(
                "POST", f"{self._base}/chat/completions", json=payload
            ) as response:
                opened = True
                if not 200 <= response.status_code < 300:
                    raise error_for_status(response.status_code, (await response.aread())[:4096])
                async with aclosing(events_from_sse(response.aiter_lines())) as events:
                    async for event in events:
                        yield event
        except httpx.ConnectTimeout as exc:
            raise GeneratorTimeout("timed out connecting to the LLM server") from exc
        except httpx.TimeoutException as exc:
            raise GeneratorTimeout(
                f"LLM server sent nothing for {self._read_timeout_s:g}s"
            ) from exc
        except httpx.DecodingError as exc:
            raise GeneratorProtocolError("undecodable response body") from exc
        except httpx.RemoteProtocolError as exc:
            what = "stream ended early" if opened else "LLM server closed the connection"
            raise GeneratorUnavailable(what) from exc
        except httpx.TransportError as exc:
            what = "stream ended early" if opened else "cannot reach the LLM server"
            raise GeneratorUnavailable(f"{what} ({type(exc).__name__})") from exc

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float = 0.0
    ) -> AsyncGenerator[str, None]:
        """Yield only the text pieces of ``stream_events``."""
        events = self.stream_events(messages, max_tokens=max_tokens, temperature=temperature)
        async with aclosing(events):
            async for event in events:
                if isinstance(event, TextDelta):
                    yield event.text

    async def complete(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float = 0.0
    ) -> tuple[str, Finished]:
        """The whole answer at once, with its ``Finished`` event."""
        parts: list[str] = []
        finished = Finished(None, None, None)
        events = self.stream_events(messages, max_tokens=max_tokens, temperature=temperature)
        async with aclosing(events):
            async for event in events:
                if isinstance(event, TextDelta):
                    parts.append(event.text)
                else:
                    finished = event
        return "".join(parts), finished

    async def health(self, timeout_s: float = 2.0) -> bool:
        """True when ``GET {root}/health`` (vLLM) or else ``GET {base}/models`` answers 200."""
        for url in (f"{self._root}/health", f"{self._base}/models"):
            try:
                response = await self._http().get(url, timeout=timeout_s)
            except (httpx.HTTPError, OSError):
                continue
            if response.status_code == 200:
                return True
        return False

    async def aclose(self) -> None:
        """Close the shared HTTP client (a later call makes a new one)."""
        client, self._client, self._loop = self._client, None, None
        if client is not None:
            await client.aclose()
