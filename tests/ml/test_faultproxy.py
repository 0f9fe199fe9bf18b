"""FaultProxy against a tiny real upstream (starlette under uvicorn), and OpenAIChatClient through it."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ml.generation.client import Finished, OpenAIChatClient, TextDelta
from ml.generation.errors import GeneratorProtocolError, GeneratorTimeout, GeneratorUnavailable
from ml.interfaces import ChatMessage
from tests.faultproxy import FaultProxy

pytestmark = pytest.mark.integration
MESSAGES = [ChatMessage("user", "hi")]
TOKENS = ["Hello", " from", " upstream", "."]


def sse(obj: dict[str, Any] | str) -> str:
    return f"data: {obj if isinstance(obj, str) else json.dumps(obj)}\n\n"


def delta(content: str, finish: str | None = None) -> dict[str, Any]:
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
    }


class Upstream:
    """An OpenAI-style SSE server that records requests and whether a stream was cut short."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.delay_s = 0.01
        self.tokens = TOKENS
        self.cancelled = threading.Event()
        self.completed = 0
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/health", lambda _: Response(status_code=200)),
                Route("/empty", lambda _: Response(status_code=204)),
                Route("/echo", self.echo, methods=["GET", "POST", "PUT"]),
            ]
        )
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )

    def reset(self) -> None:
        self.requests.clear()
        self.cancelled.clear()
        self.completed = 0
        self.delay_s = 0.01
        self.tokens = TOKENS

    async def echo(self, request: Request) -> Response:
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "headers": dict(request.headers),
                "body": body.decode(),
            },
            status_code=201,
        )

    async def chat(self, request: Request) -> Response:
        self.requests.append(await request.json())

        async def events() -> AsyncIterator[str]:
            done = False
            try:
                yield sse(
                    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
                )
                for i, token in enumerate(self.tokens):
                    await asyncio.sleep(self.delay_s)
                    yield sse(delta(token, "stop" if i == len(self.tokens) - 1 else None))
                yield sse(
                    {
                        "choices": [],
                        "usage": {"prompt_tokens": 3, "completion_tokens": len(self.tokens)},
                    }
                )
                yield sse("[DONE]")
                done = True
                self.completed += 1
            finally:
                if not done:
                    self.cancelled.set()

        return StreamingResponse(events(), media_type="text/event-stream")


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    server.thread.start()
    deadline = time.monotonic() + 10
    while not server.server.started:
        assert time.monotonic() < deadline, "upstream did not start"
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.server.should_exit = True
        server.thread.join(10)


@pytest.fixture
def proxy(upstream: Upstream) -> Iterator[FaultProxy]:
    upstream.reset()
    with FaultProxy(upstream.url) as running:
        yield running


def client_for(proxy: FaultProxy, **kwargs: Any) -> OpenAIChatClient:
    kwargs.setdefault("retry_backoff_s", 0.05)
    return OpenAIChatClient(proxy.url + "/v1", "tiny", **kwargs)


async def collect(
    client: OpenAIChatClient, got: list[str] | None = None
) -> list[TextDelta | Finished]:
    events: list[TextDelta | Finished] = []
    try:
        async for event in client.stream_events(MESSAGES, max_tokens=8):
            events.append(event)
            if got is not None and isinstance(event, TextDelta):
                got.append(event.text)
    finally:
        await client.aclose()
    return events


def test_proxy_forwards_method_path_query_headers_and_body(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    url = proxy.url
    assert url.startswith("http://127.0.0.1:") and proxy.start() == url
    response = httpx.put(
        f"{url}/echo?a=1&b=two",
        content=b"payload",
        headers={"x-test": "yes", "connection": "keep-alive"},
        timeout=5,
    )
    assert response.status_code == 201
    echoed = response.json()
    assert (echoed["method"], echoed["path"], echoed["query"], echoed["body"]) == (
        "PUT",
        "/echo",
        "a=1&b=two",
        "payload",
    )
    assert echoed["headers"]["x-test"] == "yes"
    assert echoed["headers"]["host"] == upstream.url.removeprefix("http://")
    assert httpx.get(f"{url}/health", timeout=5).status_code == 200
    assert httpx.get(f"{url}/missing", timeout=5).status_code == 404
    assert httpx.get(f"{url}/empty", timeout=5).status_code == 204
    assert httpx.head(f"{url}/health", timeout=5).status_code == 200
    proxy.mode = "drop"  # faults only touch event streams
    assert httpx.get(f"{url}/health", timeout=5).status_code == 200
    assert proxy.requests == 6


def test_pass_mode_streams_the_full_answer(proxy: FaultProxy, upstream: Upstream) -> None:
    events = asyncio.run(collect(client_for(proxy, api_key="k")))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello from upstream."
    assert events[-1] == Finished("stop", 3, 4)
    assert upstream.requests[0]["stream"] is True and upstream.completed == 1
    assert asyncio.run(client_for(proxy).health()) is True


def test_malformed_event_is_a_protocol_error_without_retry(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    proxy.mode, proxy.after_events = "malformed", 2
    got: list[str] = []
    with pytest.raises(GeneratorProtocolError):
        asyncio.run(collect(client_for(proxy, retries=2), got))
    assert got == ["Hello"] and proxy.requests == 1


def test_stall_becomes_a_timeout(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.mode, proxy.after_events, proxy.stall_s = "stall", 2, 3.0
    got: list[str] = []
    started = time.monotonic()
    with pytest.raises(GeneratorTimeout):
        asyncio.run(collect(client_for(proxy, read_timeout_s=0.5, retries=2), got))
    assert got == ["Hello"] and proxy.requests == 1  # never retried after the first token
    assert time.monotonic() - started < 2.5


def test_stall_before_first_token_is_retried(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.mode, proxy.after_events, proxy.stall_s = "stall", 1, 3.0
    with pytest.raises(GeneratorTimeout):
        asyncio.run(collect(client_for(proxy, read_timeout_s=0.5, retries=1)))
    assert proxy.requests == 2


def test_drop_after_first_token_is_unavailable_and_not_retried(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    proxy.mode, proxy.after_events = "drop", 2
    got: list[str] = []
    with pytest.raises(GeneratorUnavailable, match="ended early"):
        asyncio.run(collect(client_for(proxy, retries=3), got))
    assert got == ["Hello"]
    assert proxy.requests == 1 and len(upstream.requests) == 1


def test_drop_before_first_token_is_retried_and_can_recover(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    proxy.mode, proxy.after_events = "drop", 1
    with pytest.raises(GeneratorUnavailable, match="ended early"):
        asyncio.run(collect(client_for(proxy, retries=1)))
    assert proxy.requests == 2 and len(upstream.requests) == 2

    async def flaky() -> list[TextDelta | Finished]:
        client = client_for(proxy, retries=1, retry_backoff_s=0.3)
        task = asyncio.ensure_future(collect(client))
        while proxy.requests < 3:  # its first attempt is in (mode fixed): heal for the retry
            await asyncio.sleep(0.01)
        proxy.mode = "pass"
        return await task

    events = asyncio.run(flaky())
    assert events[-1] == Finished("stop", 3, 4) and proxy.requests == 4


def test_refuse_is_retried_then_unavailable(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.mode = "refuse"
    with pytest.raises(GeneratorUnavailable, match="502"):
        asyncio.run(collect(client_for(proxy, retries=1)))
    assert proxy.requests == 2  # one retry seen by the proxy...
    assert upstream.requests == []  # ...and nothing reached the upstream
    assert asyncio.run(client_for(proxy).health(timeout_s=1)) is False


def test_consumer_break_closes_the_upstream_stream(proxy: FaultProxy, upstream: Upstream) -> None:
    upstream.delay_s = 0.2
    upstream.tokens = [f" t{i}" for i in range(50)]

    async def first_token_only() -> str:
        client = client_for(proxy)
        try:
            async for piece in client.stream(MESSAGES, max_tokens=64):
                return piece
        finally:
            await client.aclose()
        return ""

    assert asyncio.run(first_token_only()) == " t0"
    started = time.monotonic()
    assert upstream.cancelled.wait(2.0), "upstream stream was not closed within 2 s"
    assert time.monotonic() - started < 2.0
    assert upstream.completed == 0 and proxy.disconnects == 1


def test_upstream_down_is_a_502_and_stop_is_idempotent() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    proxy = FaultProxy(dead)
    url = proxy.start()
    try:
        assert httpx.get(f"{url}/health", timeout=5).status_code == 502
        with pytest.raises(GeneratorUnavailable):
            asyncio.run(collect(OpenAIChatClient(url, "m", retries=0)))
    finally:
        proxy.stop()
        proxy.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=1)
