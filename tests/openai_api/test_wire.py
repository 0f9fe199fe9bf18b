"""The OpenAI adapters on fixed event sequences: ``chat.completion.chunk`` streams (a failure
before any text becomes the fallback completion, after text an ``error`` object) and the
``chat.completion`` body; and the OpenAI error shape of bad parameters."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError

from backend.answers.events import Done, Error, Meta, Replace, Sources, Token, TurnEvent
from backend.openai_api import errors
from backend.openai_api.wire import STREAM_FAILED, collect, stream_chunks

pytestmark = pytest.mark.unit

META = Meta(route="llm", intent="transfer_fees", confidence=0.9, llm_available=True, model="m")
SOURCE = {"number": 1, "chunk_id": "doc-1", "kind": "cited"}
FAILED = Error("generation_failed", "The answer could not be completed.", discard_partial=True)


class Feed:
    """Fixed events; remembers how far they were read and whether they were closed."""

    def __init__(self, events: Sequence[TurnEvent], fail_at: int | None = None) -> None:
        self.events, self.fail_at, self.read, self.closed = list(events), fail_at, 0, False

    async def __call__(self) -> AsyncGenerator[TurnEvent, None]:
        try:
            for i, event in enumerate(self.events):
                if i == self.fail_at:
                    raise RuntimeError("boom")
                self.read = i + 1
                yield event
        finally:
            self.closed = True


def stream(feed: Feed) -> list[Any]:
    """The ``data:`` payloads sent (``"[DONE]"`` as a string)."""

    async def go() -> bytes:
        chunks = stream_chunks(feed(), conversation_id=5, model="deskpilot")
        return b"".join([c async for c in chunks])

    body = asyncio.run(go()).decode()
    assert feed.closed
    out: list[Any] = []
    for block in body.strip().split("\n\n"):
        assert block.startswith("data: ") and "\n" not in block
        data = block.removeprefix("data: ")
        out.append(data if data == "[DONE]" else json.loads(data))
    return out


def content(payloads: list[Any]) -> str:
    return "".join(
        p["choices"][0]["delta"].get("content", "") for p in payloads if isinstance(p, dict)
    )


def test_a_streamed_answer() -> None:
    out = stream(Feed([META, Token("Top-ups"), Token(" are free."), Sources([SOURCE]), Done(3)]))
    assert out[-1] == "[DONE]"
    first, last = out[0], out[-2]
    assert first["object"] == "chat.completion.chunk"
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert first["deskpilot"] == {
        "conversation_id": 5,
        "route": "llm",
        "intent": "transfer_fees",
        "confidence": 0.9,
    }
    assert content(out) == "Top-ups are free."
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["deskpilot"]["sources"] == [SOURCE] and last["deskpilot"]["message_id"] == 3
    assert len({p["id"] for p in out[:-1]}) == 1


def test_a_replace_rides_in_the_extension() -> None:
    out = stream(Feed([META, Token("See [9]"), Replace("See."), Sources([]), Done(3)]))
    notes = [p["deskpilot"].get("replace") for p in out[1:-1] if "deskpilot" in p]
    assert {"text": "See."} in notes
    assert content(out) == "See [9]"  # what was sent stays; the last chunk says what replaced it
    assert out[-2]["deskpilot"]["replace"] == {"text": "See."}


def test_a_replace_before_any_text_is_the_completion() -> None:
    # every generated sentence was held (unsupported): the extractive answer replaces nothing
    # the client saw, so it is simply the content
    answer = "Top-ups by card are free."
    out = stream(Feed([META, Token(""), Replace(answer), Sources([SOURCE]), Done(3)]))
    assert content(out) == answer
    assert all("replace" not in p.get("deskpilot", {}) for p in out if isinstance(p, dict))
    assert out[-2]["choices"][0]["finish_reason"] == "stop" and out[-1] == "[DONE]"


def test_failure_before_any_text_sends_the_fallback_as_the_completion() -> None:
    # the guard held the only word back, so nothing reached the client before the failure
    events: list[TurnEvent] = [
        META,
        Token(""),
        FAILED,
        Token("Top-ups by card are free."),
        Sources([]),
        Done(4),
    ]
    out = stream(Feed(events))
    assert all("error" not in p for p in out if isinstance(p, dict))
    assert content(out) == "Top-ups by card are free."
    assert out[-2]["choices"][0]["finish_reason"] == "stop"
    assert out[-2]["deskpilot"]["error"]["code"] == "generation_failed"
    assert out[-1] == "[DONE]"


def test_failure_after_text_ends_with_an_error_object_once_the_turn_is_stored() -> None:
    events: list[TurnEvent] = [
        META,
        Token("Top-ups"),
        FAILED,
        Token("The fallback."),
        Sources([]),
        Done(4),
    ]
    feed = Feed(events)
    out = stream(feed)
    assert feed.read == len(events)  # read to ``Done``: the turn was stored first
    assert content(out[:-2]) == "Top-ups"  # the fallback is not appended to the partial text
    assert out[-2] == {
        "error": {
            "message": STREAM_FAILED,
            "type": "server_error",
            "param": None,
            "code": "generation_failed",
        }
    }
    assert out[-1] == "[DONE]"
    assert not any(p["choices"][0]["finish_reason"] for p in out[:-2])


def test_an_unexpected_failure_is_an_error_object_not_a_broken_stream() -> None:
    out = stream(Feed([META, Token("a"), Sources([]), Done(1)], fail_at=2))
    assert out[-2]["error"]["type"] == "server_error"
    assert out[-2]["error"]["code"] == "internal_error" and out[-1] == "[DONE]"


def test_the_json_completion() -> None:
    async def go(events: Sequence[TurnEvent]) -> Any:
        return await collect(Feed(events)())

    done = asyncio.run(go([META, Token("See [9]"), Replace("See."), Sources([SOURCE]), Done(8)]))
    body = done.body(conversation_id=5, model="deskpilot", usage={"total_tokens": 1})
    assert body["object"] == "chat.completion" and body["model"] == "deskpilot"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "See."}
    assert body["deskpilot"]["message_id"] == 8 and body["deskpilot"]["sources"] == [SOURCE]
    assert body["deskpilot"]["route"] == "llm" and "error" not in body["deskpilot"]
    # a non-streamed answer was never sent: after a failure the fallback is the completion
    failed = asyncio.run(
        go([META, Token("Top-"), FAILED, Token("Fallback."), Sources([]), Done(9)])
    )
    assert failed.text == "Fallback." and failed.extra["error"]["code"] == "generation_failed"


@pytest.mark.parametrize(
    ("error", "param", "code"),
    [
        ({"type": "missing", "loc": ("body", "messages"), "msg": "Field required"}, "messages",
         "missing_required_parameter"),
        ({"type": "int_parsing", "loc": ("body", "max_tokens"), "msg": "not an int"},
         "max_tokens", "invalid_type"),
        ({"type": "literal_error", "loc": ("body", "messages", 1, "role"), "msg": "bad role"},
         "messages[1].role", "invalid_value"),
        ({"type": "json_invalid", "loc": ("body", 12), "msg": "JSON decode error"}, "[12]",
         "invalid_json"),
        ({"type": "value_error", "loc": ("body",), "msg": "bad"}, None, "invalid_value"),
    ],
)  # fmt: skip
def test_validation_errors_name_the_parameter(
    error: dict[str, Any], param: str | None, code: str
) -> None:
    resp = errors.error_response(RequestValidationError([error, error]))
    assert resp.status_code == 400
    body = json.loads(bytes(resp.body))["error"]
    assert body["type"] == "invalid_request_error"
    assert body["param"] == param and body["code"] == code
    assert body["message"].endswith("(and 1 more)") and error["msg"] in body["message"]


def test_status_types() -> None:
    assert [errors.type_for(s) for s in (400, 401, 403, 404, 409, 413, 429, 500, 503)] == [
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "invalid_request_error",
        "invalid_request_error",
        "invalid_request_error",
        "rate_limit_error",
        "server_error",
        "server_error",
    ]
