"""OpenAIChatClient logic against httpx.MockTransport: SSE parsing, error mapping, retries, closing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from ml.generation.client import Finished, OpenAIChatClient, TextDelta, normalise_base_url
from ml.generation.errors import (
    GeneratorError,
    GeneratorHTTPError,
    GeneratorProtocolError,
    GeneratorTimeout,
    GeneratorUnavailable,
)
from ml.interfaces import ChatMessage

pytestmark = pytest.mark.unit
MESSAGES = [ChatMessage("system", "be brief"), ChatMessage("user", "hi")]
run = asyncio.run


def chunk(content: str | None = None, finish: str | None = None, **extra: Any) -> str:
    delta = {} if content is None else {"content": content}
    obj = {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    obj.update(extra)
    return f"data: {json.dumps(obj)}\n\n"


TEXT = ["Hello", " world", "!"]
USAGE = 'data: {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3}}\n\n'
GOOD = [
    ": keep-alive comment\n\n",
    'data: {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}\n\n',
    "event: message\nid: 1\n" + chunk("Hello"),
    chunk(None),
    chunk(" world").replace("\n", "\r\n"),
    chunk("!", finish="stop"),
    USAGE,
    "data: [DONE]\n\n",
]


class Body(httpx.AsyncByteStream):
    """A streamed response body that records whether it was closed, and can fail or hang."""

    def __init__(self, parts: list[str], fail: Exception | None = None, hang: bool = False) -> None:
        self.parts, self.fail, self.hang = parts, fail, hang
        self.closed = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            yield part.encode()
            await asyncio.sleep(0)
        if self.fail is not None:
            raise self.fail
        if self.hang:
            await asyncio.sleep(3600)

    async def aclose(self) -> None:
        self.closed.set()


Reply = Callable[[], httpx.Response] | Exception


class Script:
    """A MockTransport handler: the replies in order (the last one repeats); records requests."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = replies
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        if isinstance(reply, Exception):
            raise reply
        return reply()


def make(script: Script, **kwargs: Any) -> OpenAIChatClient:
    kwargs.setdefault("retry_backoff_s", 0.0)
    transport = httpx.MockTransport(script)
    return OpenAIChatClient("http://llm:8001/v1/", "smollm2", transport=transport, **kwargs)


def sse(parts: list[str], **body: Any) -> httpx.Response:
    return httpx.Response(
        200, headers={"content-type": "text/event-stream"}, stream=Body(parts, **body)
    )


def good() -> httpx.Response:
    return sse(GOOD)


def replies(*parts: str, **body: Any) -> Script:
    return Script(lambda: sse(list(parts), **body))


async def collect(client: OpenAIChatClient, **kwargs: Any) -> list[TextDelta | Finished]:
    try:
        return [e async for e in client.stream_events(MESSAGES, max_tokens=16, **kwargs)]
    finally:
        await client.aclose()


def test_base_url_normalisation_and_validation() -> None:
    assert normalise_base_url("http://h:8001/v1/") == "http://h:8001/v1"
    assert normalise_base_url("http://h:8001") == "http://h:8001/v1"
    assert normalise_base_url("https://h/") == "https://h/v1"
    assert normalise_base_url("http://h/openai/v2") == "http://h/openai/v2"
    for bad in ("", "h:8001/v1", "ftp://h/v1"):
        with pytest.raises(ValueError):
            OpenAIChatClient(bad, "m")
    for kwargs in ({"retries": -1}, {"read_timeout_s": 0}, {"retry_backoff_s": -1.0}):
        with pytest.raises(ValueError):
            OpenAIChatClient("http://h", "m", **kwargs)
    with pytest.raises(ValueError):
        OpenAIChatClient("http://h", " ")
    client = OpenAIChatClient("http://h:1", "m")
    assert client.model == "m" and client.base_url == "http://h:1/v1"


def test_stream_parses_sse_and_sends_openai_request() -> None:
    script = Script(good)
    events = run(collect(make(script, api_key="sk-test"), temperature=0.3, stop=["\n\n"]))
    assert events == [*map(TextDelta, TEXT), Finished("stop", 5, 3)]
    request = script.requests[0]
    assert request.method == "POST" and str(request.url) == "http://llm:8001/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    body = json.loads(request.content)
    assert body == {
        "model": "smollm2",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "max_tokens": 16,
        "temperature": 0.3,
        "stream": True,
        "stream_options": {"include_usage": True},
        "stop": ["\n\n"],
    }


def test_penalties_are_sent_only_when_they_do_something() -> None:
    script = Script(good)
    run(collect(make(script), frequency_penalty=0.3, repetition_penalty=1.1))
    body = json.loads(script.requests[0].content)
    assert body["frequency_penalty"] == 0.3 and body["repetition_penalty"] == 1.1
    assert body["max_tokens"] == 16
    # unset, 0 (off) and 1.0 (vLLM's neutral value): a plain OpenAI request, which servers
    # without vLLM's extension accept
    for kwargs in (
        {},
        {"frequency_penalty": 0.0, "repetition_penalty": 0.0},
        {"repetition_penalty": 1.0},
    ):
        script = Script(good)
        run(collect(make(script), **kwargs))
        body = json.loads(script.requests[0].content)
        assert "frequency_penalty" not in body and "repetition_penalty" not in body
    for bad in ({"frequency_penalty": 2.5}, {"repetition_penalty": -1.0}):
        with pytest.raises(ValueError):
            run(collect(make(Script(good)), **bad))


def test_helpers_shared_client_no_auth_and_argument_checks() -> None:
    script = Script(good)

    async def go() -> tuple[tuple[str, Finished], list[str]]:
        client = make(script)
        done = await client.complete(MESSAGES, max_tokens=8)
        first = client._http()
        pieces = [p async for p in client.stream(MESSAGES, max_tokens=8)]
        assert client._http() is first  # one shared httpx client...
        for messages, kwargs in (([], {}), (MESSAGES, {"temperature": -1.0})):
            with pytest.raises(ValueError):
                await client.complete(messages, max_tokens=4, **kwargs)
        with pytest.raises(ValueError):
            await client.complete(MESSAGES, max_tokens=0)
        await client.aclose()
        assert first.is_closed  # ...closed by aclose()
        return done, pieces

    (text, finished), pieces = run(go())
    assert text == "Hello world!" and finished.finish_reason == "stop" and pieces == TEXT
    assert len(script.requests) == 2 and "authorization" not in script.requests[0].headers


@pytest.mark.parametrize(
    ("parts", "error"),
    [
        ([chunk("a"), "data: {not json\n\n"], GeneratorProtocolError),
        (["data: [1, 2]\n\n"], GeneratorProtocolError),
        (['data: {"choices": {"0": 1}}\n\n'], GeneratorProtocolError),
        (['data: {"id": "x"}\n\n'], GeneratorProtocolError),
        (['data: {"choices": [{"delta": {"content": 5}}]}\n\n'], GeneratorProtocolError),
        (['data: {"error": {"message": "prompt too long", "code": 400}}\n\n'], GeneratorHTTPError),
        ([chunk("a"), chunk("b")], GeneratorUnavailable),  # ended without [DONE] or finish_reason
    ],
)
def test_bad_streams_raise_clear_errors(parts: list[str], error: type[GeneratorError]) -> None:
    script = replies(*parts)
    with pytest.raises(error) as info:
        run(collect(make(script)))
    assert len(str(info.value)) < 120
    if error is GeneratorHTTPError:
        assert "prompt too long" in str(info.value) and info.value.status == 400  # type: ignore[attr-defined]
    assert len(script.requests) == 1  # not retryable, or text was already yielded


def test_stream_end_without_done() -> None:
    script = replies(chunk(None))  # no text, no finish_reason: ended early, retried
    with pytest.raises(GeneratorUnavailable, match="ended early"):
        run(collect(make(script, retries=2)))
    assert len(script.requests) == 3
    events = run(collect(make(replies(chunk("ok", finish="length")))))
    assert events == [TextDelta("ok"), Finished("length", None, None)]
    events = run(collect(make(replies(chunk("ok"), "data: [DONE]"))))
    assert events == [TextDelta("ok"), Finished(None, None, None)]


@pytest.mark.parametrize(
    ("status", "error", "retried"),
    [
        (400, GeneratorHTTPError, False),
        (404, GeneratorHTTPError, False),
        (429, GeneratorHTTPError, True),
        (500, GeneratorHTTPError, True),
        (502, GeneratorUnavailable, True),
        (503, GeneratorUnavailable, True),
    ],
)
def test_http_status_mapping_and_retries(
    status: int, error: type[GeneratorError], retried: bool
) -> None:
    script = Script(
        lambda: httpx.Response(status, json={"error": {"message": "nope", "code": status}})
    )
    with pytest.raises(error) as info:
        run(collect(make(script, retries=2)))
    assert str(status) in str(info.value)
    assert len(script.requests) == (3 if retried else 1)
    if isinstance(info.value, GeneratorHTTPError):
        assert info.value.status == status and "nope" in str(info.value)


def test_connect_errors_and_timeouts_are_mapped_and_retried() -> None:
    script = Script(httpx.ConnectError("refused"), good)
    assert run(collect(make(script)))[-1] == Finished("stop", 5, 3)
    assert len(script.requests) == 2
    with pytest.raises(GeneratorUnavailable, match="cannot reach"):
        run(collect(make(Script(httpx.ConnectError("refused")), retries=0)))
    with pytest.raises(GeneratorTimeout, match="connecting"):
        run(collect(make(Script(httpx.ConnectTimeout("slow")), retries=0)))
    with pytest.raises(GeneratorProtocolError, match="undecodable"):
        run(collect(make(replies(chunk("a"), fail=httpx.DecodingError("gzip")))))


@pytest.mark.parametrize(
    ("fail", "error", "match"),
    [
        (httpx.ReadTimeout("stall"), GeneratorTimeout, "sent nothing for 15s"),
        (httpx.RemoteProtocolError("incomplete read"), GeneratorUnavailable, "ended early"),
    ],
)
def test_mid_stream_failure_retried_before_first_token_only(
    fail: Exception, error: type[GeneratorError], match: str
) -> None:
    before = replies(chunk(None), fail=fail)
    with pytest.raises(error, match=match):
        run(collect(make(before, retries=1)))
    assert len(before.requests) == 2
    after = replies(chunk("partial"), fail=fail)
    got: list[str] = []

    async def go() -> None:
        client = make(after, retries=3)
        try:
            async for piece in client.stream(MESSAGES, max_tokens=4):
                got.append(piece)
        finally:
            await client.aclose()

    with pytest.raises(error, match=match):
        run(go())
    assert got == ["partial"] and len(after.requests) == 1


def test_breaking_early_closes_the_response() -> None:
    bodies: list[Body] = []

    def reply() -> httpx.Response:
        bodies.append(Body([chunk("first"), chunk("second")], hang=True))
        return httpx.Response(200, stream=bodies[-1])

    async def go() -> None:
        client = make(Script(reply))
        async for piece in client.stream(MESSAGES, max_tokens=8):
            assert piece == "first"
            break
        await asyncio.wait_for(bodies[0].closed.wait(), 1.0)  # closed when the loop broke
        gen = client.stream_events(MESSAGES, max_tokens=8)
        assert await anext(gen) == TextDelta("first")
        await gen.aclose()
        assert bodies[1].closed.is_set()
        await client.aclose()

    run(go())


def test_cancelling_the_consumer_task_closes_the_response() -> None:
    body = Body([chunk("first")], hang=True)
    got_first = asyncio.Event()

    async def consume(client: OpenAIChatClient) -> None:
        async for _ in client.stream(MESSAGES, max_tokens=8):
            got_first.set()

    async def go() -> None:
        client = make(Script(lambda: httpx.Response(200, stream=body)))
        task = asyncio.create_task(consume(client))
        await asyncio.wait_for(got_first.wait(), 1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert body.closed.is_set()
        await client.aclose()

    run(go())


def test_health_prefers_vllm_health_then_models_and_never_raises() -> None:
    async def check(script: Script) -> list[str]:
        client = make(script)
        try:
            healthy = await client.health(timeout_s=0.5)
        finally:
            await client.aclose()
        return [str(healthy)] + [r.url.path for r in script.requests]

    assert run(check(Script(lambda: httpx.Response(200)))) == ["True", "/health"]
    only_models = Script(lambda: httpx.Response(404), lambda: httpx.Response(200))
    assert run(check(only_models)) == ["True", "/health", "/v1/models"]
    assert run(check(Script(lambda: httpx.Response(503)))) == ["False", "/health", "/v1/models"]
    assert run(check(Script(httpx.ConnectError("refused"))))[0] == "False"
