"""The live event bus: wakes the SSE streams of a conversation when something was written to it.

The bus carries no data, only "conversation N changed": the streams always read the events back
from the database (``conversation_event``), so a lost or duplicated wake-up costs latency, never
correctness (each stream also re-reads on a short timeout). One API process uses
:class:`InProcessBus`; several processes share wake-ups through Redis pub/sub (:class:`RedisBus`).

Writers call ``request.app.state.events.publish(conversation_id)`` after their commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from typing import Protocol

import redis
import redis.asyncio as aredis
from redis.exceptions import RedisError

from backend.core.settings import Settings

log = logging.getLogger(__name__)
CHANNEL_PREFIX = "deskpilot:conv:"
RECONNECT_MAX_S = 5.0
PUBLISH_RETRY_S = 2.0  # after a failed publish, skip Redis this long


class EventBus(Protocol):
    """Wake-ups per conversation between writers (any thread) and streams (the event loop)."""

    def publish(self, conversation_id: int) -> None:
        """Wake every stream waiting on the conversation (sync, callable from any thread)."""
        ...

    async def wait(self, conversation_id: int, timeout: float) -> bool:
        """Wait for a publish on the conversation; True when woken, False on timeout."""
        ...

    async def start(self) -> None:
        """Start (app startup, on the event loop that will run the streams)."""
        ...

    async def stop(self) -> None:
        """Stop and wake every waiter (app shutdown)."""
        ...


class InProcessBus:
    """Wake-ups within one process: an ``asyncio.Event`` per waiting stream."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: dict[int, set[asyncio.Event]] = {}

    async def start(self) -> None:
        """Remember the running loop (publishers on other threads hand wake-ups to it)."""
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        """Wake every waiter (they re-read and see the shutdown) and stop accepting publishes."""
        for events in self._waiters.values():
            for event in events:
                event.set()
        self._loop = None

    def publish(self, conversation_id: int) -> None:
        """Wake the conversation's waiters; safe from any thread, a no-op before start."""
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self.wake(conversation_id)
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (shutdown)
            loop.call_soon_threadsafe(self.wake, conversation_id)

    def wake(self, conversation_id: int) -> None:
        """Set every waiter of the conversation (on the loop's thread only)."""
        for event in self._waiters.get(conversation_id, ()):
            event.set()

    async def wait(self, conversation_id: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a publish on the conversation."""
        event = asyncio.Event()
        waiters = self._waiters.setdefault(conversation_id, set())
        waiters.add(event)
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            waiters.discard(event)
            if not waiters:
                self._waiters.pop(conversation_id, None)


class RedisBus:
    """Wake-ups across processes: publish on ``{prefix}{id}``; one listener per process
    (pattern-subscribed to ``{prefix}*``) fans each message out to the local waiters.

    The listener reconnects with backoff when Redis drops; while it is down, streams still get
    every event through their periodic database re-read.
    """

    def __init__(self, url: str, *, prefix: str = CHANNEL_PREFIX) -> None:
        self.url = url
        self.prefix = prefix
        self._local = InProcessBus()
        # Short timeouts: publish runs inside request handlers and must not hang on a dead Redis.
        self._publisher = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
        self._task: asyncio.Task[None] | None = None
        self._down_until = 0.0
        self._subscribed = asyncio.Event()
        # Names the listener's connection in CLIENT LIST (operators, tests).
        self.client_name = f"deskpilot-bus-{os.getpid()}-{secrets.token_hex(3)}"

    async def start(self, ready_timeout: float = 3.0) -> None:
        """Start the listener and wait (up to ``ready_timeout``) until it is subscribed."""
        await self._local.start()
        self._subscribed = asyncio.Event()
        self._task = asyncio.create_task(self._listen(), name="deskpilot-redis-bus")
        try:
            await asyncio.wait_for(self._subscribed.wait(), ready_timeout)
        except TimeoutError:
            log.warning(
                "event bus: Redis at %s not reachable yet; retrying in the background", self.url
            )

    async def stop(self) -> None:
        """Stop the listener, wake the local waiters and close the connections."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._local.stop()
        self._publisher.close()

    @property
    def connected(self) -> bool:
        """True while the listener is subscribed."""
        return self._subscribed.is_set()

    def publish(self, conversation_id: int) -> None:
        """Wake local waiters at once, and other processes through Redis (errors are logged).

        Called on the event loop (async routes), the Redis call runs in a thread so that a slow
        or dead Redis never stalls the loop."""
        self._local.publish(conversation_id)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._publish_remote(conversation_id)
        else:
            loop.run_in_executor(None, self._publish_remote, conversation_id)

    def _publish_remote(self, conversation_id: int) -> None:
        if time.monotonic() < self._down_until:
            return  # Redis failed a moment ago: don't make every request wait for it
        try:
            self._publisher.publish(f"{self.prefix}{conversation_id}", b"1")
        except RedisError as exc:  # the streams' database re-read still delivers
            self._down_until = time.monotonic() + PUBLISH_RETRY_S
            log.warning("event bus: publish to Redis failed: %s", exc)

    async def wait(self, conversation_id: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a publish (from any process) on the conversation."""
        return await self._local.wait(conversation_id, timeout)

    def _on_message(self, channel: bytes | str) -> None:
        name = channel.decode() if isinstance(channel, bytes) else channel
        try:
            conversation_id = int(name[len(self.prefix) :])
        except ValueError:
            return
        self._local.wake(conversation_id)

    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            client = aredis.Redis.from_url(
                self.url,
                socket_connect_timeout=2.0,
                health_check_interval=10,
                client_name=self.client_name,
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(f"{self.prefix}*")
                self._subscribed.set()
                backoff = 0.1
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "pmessage":
                        self._on_message(message["channel"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("event bus: Redis listener lost (%s); reconnecting", exc)
            finally:
                self._subscribed.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RECONNECT_MAX_S)


def make_bus(settings: Settings) -> EventBus:
    """Redis pub/sub when ``DESKPILOT_REDIS_URL`` is set, else in-process."""
    if settings.redis_url:
        return RedisBus(settings.redis_url)
    return InProcessBus()
