"""The event bus: in-process wake-ups, and Redis wake-ups between two buses (two processes)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis

from backend.conversations.bus import InProcessBus, RedisBus, make_bus
from backend.core.settings import load_settings

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.mark.unit
def test_in_process_bus() -> None:
    async def scenario() -> None:
        bus = InProcessBus()
        bus.publish(1)  # before start: a no-op, never an error
        await bus.start()
        assert await bus.wait(1, 0.05) is False
        waiter = asyncio.create_task(bus.wait(1, 5))
        other = asyncio.create_task(bus.wait(2, 0.3))
        await asyncio.sleep(0.01)
        await asyncio.to_thread(bus.publish, 1)  # from a worker thread, as sync routes do
        assert await waiter is True
        assert await other is False
        same_thread = asyncio.create_task(bus.wait(3, 5))
        await asyncio.sleep(0.01)
        bus.publish(3)
        assert await same_thread is True
        pending = asyncio.create_task(bus.wait(4, 5))
        await asyncio.sleep(0.01)
        await bus.stop()  # shutdown wakes every stream
        assert await pending is True
        bus.publish(4)

    asyncio.run(scenario())


@pytest.mark.unit
def test_make_bus() -> None:
    assert isinstance(make_bus(load_settings()), InProcessBus)
    assert isinstance(make_bus(load_settings(redis_url=REDIS_URL)), RedisBus)


async def _woken(waiter: RedisBus, publisher: RedisBus, conversation_id: int) -> bool:
    task = asyncio.create_task(waiter.wait(conversation_id, 2))
    await asyncio.sleep(0.01)
    await asyncio.to_thread(publisher.publish, conversation_id)
    return await task


@pytest.mark.integration
def test_redis_bus_between_two_processes() -> None:
    # A channel prefix of this test's own: nothing else listens or publishes there.
    prefix = f"deskpilot-test:{uuid.uuid4().hex}:conv:"

    async def scenario() -> None:
        a, b = RedisBus(REDIS_URL, prefix=prefix), RedisBus(REDIS_URL, prefix=prefix)
        await a.start()
        await b.start()
        try:
            assert a.connected and b.connected
            started = time.monotonic()
            assert await _woken(b, a, 7) is True  # published on A, woken on B
            assert time.monotonic() - started < 1.5
            assert await _woken(a, b, 8) is True
            assert await b.wait(9, 0.2) is False  # no publish, no wake-up

            # Redis drops B's listener connection: B reconnects and is woken again.
            admin = redis.Redis.from_url(REDIS_URL)
            try:
                ids = [c["id"] for c in admin.client_list() if c.get("name") == b.client_name]
                assert ids, "B's listener connection is not in CLIENT LIST"
                for client_id in ids:
                    admin.client_kill_filter(_id=client_id)
                deadline = time.monotonic() + 15
                while not await _woken(b, a, 10):
                    assert time.monotonic() < deadline, "B never reconnected"
                now = [c["id"] for c in admin.client_list() if c.get("name") == b.client_name]
                assert now and not set(now) & set(ids)
            finally:
                admin.close()
        finally:
            await a.stop()
            await b.stop()
        assert not b.connected

    asyncio.run(scenario())


@pytest.mark.integration
def test_redis_bus_survives_redis_being_unreachable() -> None:
    async def scenario() -> None:
        bus = RedisBus("redis://127.0.0.1:1/0", prefix=f"deskpilot-test:{uuid.uuid4().hex}:")
        await bus.start(ready_timeout=0.3)  # logs a warning, keeps retrying in the background
        try:
            assert not bus.connected
            waiter = asyncio.create_task(bus.wait(1, 2))
            await asyncio.sleep(0.01)
            await asyncio.to_thread(bus.publish, 1)  # the Redis error is logged, not raised
            assert await waiter is True  # local streams still wake
            started = time.monotonic()
            for _ in range(20):  # on the event loop (async routes): never blocks it
                bus.publish(2)
            await asyncio.to_thread(bus.publish, 2)  # Redis failed a moment ago: skipped
            assert time.monotonic() - started < 0.5
        finally:
            await bus.stop()

    asyncio.run(scenario())
