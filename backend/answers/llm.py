"""The API side of generation: one OpenAI-compatible client per process and a health watcher.

The watcher polls the server every ``llm_health_interval_s``; while the server is down (not yet
started, killed, or turned off) the pipeline does not wait for it: it answers through the fast
path or the extractive fallback and says so in ``meta``. A failed request also marks it down at
once, so the next visitor does not pay for the same timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from backend.core.settings import Settings
from ml.generation.client import GenerationEvent, OpenAIChatClient
from ml.interfaces import ChatMessage

log = logging.getLogger(__name__)


class ChatClient(Protocol):
    """What the pipeline uses of a generator client (``OpenAIChatClient`` or a test fake)."""

    @property
    def model(self) -> str: ...

    def stream_events(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        frequency_penalty: float | None = None,
        repetition_penalty: float | None = None,
    ) -> AsyncIterator[GenerationEvent]: ...

    async def health(self, timeout_s: float = 2.0) -> bool: ...

    async def aclose(self) -> None: ...


class LLMRuntime:
    """The generator client and whether its server is up (held on ``app.state.llm``)."""

    def __init__(self, settings: Settings, client: ChatClient | None = None) -> None:
        self.settings = settings
        if client is None and settings.llm_base_url:
            key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
            client = OpenAIChatClient(
                settings.llm_base_url,
                settings.llm_model,
                api_key=key,
                connect_timeout_s=settings.llm_connect_timeout_s,
                read_timeout_s=settings.llm_read_timeout_s,
                retries=settings.llm_retries,
            )
        self.client: ChatClient | None = client
        self.healthy = False
        self.checked_at = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        """Whether a generator is configured at all."""
        return self.client is not None

    @property
    def model(self) -> str | None:
        """The model name answers are generated with."""
        return self.client.model if self.client else None

    async def check(self) -> bool:
        """Ask the server now; remember and return the answer."""
        if self.client is None:
            self.healthy = False
            return False
        was = self.healthy
        self.healthy = await self.client.health(
            timeout_s=min(2.0, self.settings.llm_health_interval_s)
        )
        self.checked_at = time.monotonic()
        if self.healthy != was:
            log.info(
                "generator %s is %s", self.settings.llm_base_url, "up" if self.healthy else "down"
            )
        return self.healthy

    @property
    def penalties(self) -> dict[str, float | None]:
        """The sampling penalties of answer requests (``DESKPILOT_LLM_*_PENALTY``; None: off)."""
        return {
            "frequency_penalty": self.settings.llm_frequency_penalty or None,
            "repetition_penalty": self.settings.llm_repetition_penalty or None,
        }

    def mark_down(self) -> None:
        """A request failed: treat the server as down until the next successful check."""
        self.healthy = False

    async def _watch(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                await self.check()
            await asyncio.sleep(self.settings.llm_health_interval_s)

    async def start(self) -> None:
        """Check once, then keep checking in the background."""
        if self.client is None:
            return
        await self.check()
        self._task = asyncio.create_task(self._watch(), name="llm-health")

    async def stop(self) -> None:
        """Stop the watcher and close the client."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.client is not None:
            await self.client.aclose()

    def status(self) -> str:
        """Readiness detail; never fails readiness (answers go on without the generator)."""
        if self.client is None:
            return "disabled (DESKPILOT_LLM_BASE_URL is empty): fast path and extractive answers"
        if self.healthy:
            return f"up: {self.client.model} at {self.settings.llm_base_url}"
        return (
            f"down at {self.settings.llm_base_url}: answering with the fast path and "
            "extractive fallback until it is up"
        )
