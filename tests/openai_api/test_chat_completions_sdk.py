"""``/v1/chat/completions`` through the official ``openai`` SDK against a real uvicorn server of
the app: streamed and not, a generator failing before and after text was sent, and OpenAI-shaped
errors (``type``, ``param``, ``code``)."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from sqlmodel import Session, select

from backend.conversations.models import Message, MessageRole
from ml.generation.errors import GeneratorUnavailable
from ml.testing.fake_generator import FakeGenerator
from tests.openai_api.conftest import Served

pytestmark = pytest.mark.integration
QUESTION: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "Do top-ups by card cost anything?"}
]
ANSWER = "Top-ups by card are free of charge for every customer. [1]"  # FakeGenerator's


def sdk(served: Served, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=served.base_url, api_key=key or served.key, max_retries=0, timeout=60
    )


def stored(session: Session, message_id: Any) -> Message:
    message = session.get(Message, message_id)
    assert message is not None
    session.refresh(message)
    return message


def test_streamed_and_plain_answers(served: Served, session: Session) -> None:
    served.use_generator(FakeGenerator())
    client = sdk(served)
    chunks = list(client.chat.completions.create(model="deskpilot", messages=QUESTION, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == ANSWER
    assert chunks[-1].choices[0].finish_reason == "stop"
    extra = (chunks[-1].model_extra or {})["deskpilot"]
    assert extra["route"] == "llm" and extra["sources"][0]["chunk_id"] == "doc-fees-1"
    assert stored(session, extra["message_id"]).text == ANSWER

    reply = client.chat.completions.create(model="deskpilot", messages=QUESTION)
    assert reply.object == "chat.completion" and reply.choices[0].message.content == ANSWER
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    assert (reply.model_extra or {})["deskpilot"]["route"] == "llm"


@pytest.mark.parametrize(
    "generator",
    [
        FakeGenerator(fail_before_first=GeneratorUnavailable("connection refused")),
        FakeGenerator(fail_after_tokens=0),  # the stream opens, then ends before any text
    ],
    ids=["refused", "ended-before-text"],
)
def test_failure_before_any_text_streams_the_fallback_as_the_completion(
    served: Served, session: Session, generator: FakeGenerator
) -> None:
    served.use_generator(generator)
    stream = sdk(served).chat.completions.create(
        model="deskpilot",
        messages=QUESTION,
        stream=True,
    )
    chunks = list(stream)  # no exception: the client gets a whole answer
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    extra = (chunks[-1].model_extra or {})["deskpilot"]
    assert extra["error"]["code"] == "generation_failed"
    message = stored(session, extra["message_id"])
    assert text == message.text and text.startswith("Top-ups by card are free")
    assert text != ANSWER and message.trace["route"] == "extractive"


def test_failure_after_text_was_sent_is_raised_by_the_sdk(served: Served, session: Session) -> None:
    # the first sentence (10 words) is checked and sent once the 11th word arrives; then it fails
    first = "Top-ups by card are free of charge for every customer."
    served.use_generator(
        FakeGenerator(answer=f"{first} Transfers abroad cost 0.5 %.", fail_after_tokens=12)
    )
    stream = sdk(served).chat.completions.create(
        model="deskpilot",
        messages=QUESTION,
        stream=True,
    )
    received: list[Any] = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received.append(chunk)
    error = caught.value
    assert error.type == "server_error" and error.code == "generation_failed"
    assert error.param is None and "could not be completed" in error.message
    assert error.body == {
        "message": error.message,
        "type": "server_error",
        "param": None,
        "code": "generation_failed",
    }
    text = "".join(c.choices[0].delta.content or "" for c in received)
    assert text == first
    # the turn was stored (the fallback, with the failure in its trace) before the stream ended
    conversation_id = (received[0].model_extra or {})["deskpilot"]["conversation_id"]
    bot = session.exec(
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .where(Message.role == MessageRole.bot)
    ).all()
    assert len(bot) == 1 and bot[0].trace["error"]["code"] == "GeneratorUnavailable"


def test_not_streamed_a_failure_returns_the_fallback(served: Served) -> None:
    served.use_generator(FakeGenerator(fail_after_tokens=4))
    reply = sdk(served).chat.completions.create(model="deskpilot", messages=QUESTION)
    text = reply.choices[0].message.content or ""
    assert text.startswith("Top-ups by card are free") and text != ANSWER
    assert (reply.model_extra or {})["deskpilot"]["error"]["code"] == "generation_failed"


def test_errors_are_openai_shaped(served: Served) -> None:
    with pytest.raises(openai.AuthenticationError) as auth:
        sdk(served, key="dp-not-a-key").chat.completions.create(
            model="deskpilot",
            messages=QUESTION,
        )
    assert auth.value.status_code == 401
    assert auth.value.type == "authentication_error" and auth.value.code == "invalid_api_key"

    client = sdk(served)
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(
            model="deskpilot",
            messages=[{"role": "assistant", "content": "hello"}],
        )
    assert bad.value.type == "invalid_request_error" and bad.value.param == "messages"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="deskpilot", messages=QUESTION, max_tokens=0)
    assert bad.value.param == "max_tokens" and bad.value.code == "invalid_value"

    url = served.base_url + "/chat/completions"
    headers = {"Authorization": f"Bearer {served.key}", "Content-Type": "application/json"}
    resp = httpx.post(url, content=b"{not json", headers=headers, timeout=30)
    assert resp.status_code == 400
    body = resp.json()["error"]
    assert set(body) == {"message", "type", "param", "code"}
    assert body["type"] == "invalid_request_error" and body["code"] == "invalid_json"
    long = [{"role": "user", "content": "x" * 5000}]
    resp = httpx.post(url, json={"messages": long}, headers=headers, timeout=30)
    assert resp.status_code == 413
    assert resp.json()["error"] == {
        "message": resp.json()["error"]["message"],
        "type": "invalid_request_error",
        "param": "messages",
        "code": "message_too_long",
    }
    # the rest of the API keeps deskpilot's own error shape
    resp = httpx.get(served.base_url.removesuffix("/v1") + "/api/v1/auth/me", timeout=30)
    assert resp.status_code == 401 and set(resp.json()["error"]) == {"code", "message"}


# Against the passage "Top-ups by card are free of charge for every customer. ...": a negation
# flip, held and replaced by the passage's own words.
CONTRADICTION = "No, top-ups by card are not free: each one costs 2 %."
EXTRACTIVE = (
    "Top-ups by card are free of charge for every customer. Transfers abroad cost 0.5 %. [1]"
)


def test_a_replaced_answer_is_the_completion_streamed_and_not(
    served: Served, session: Session
) -> None:
    served.use_generator(FakeGenerator(answer=CONTRADICTION))
    client = sdk(served)
    chunks = list(client.chat.completions.create(model="deskpilot", messages=QUESTION, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == EXTRACTIVE and "not free" not in text
    extra = (chunks[-1].model_extra or {})["deskpilot"]
    assert extra["route"] == "llm" and "replace" not in extra  # nothing to take back
    message = stored(session, extra["message_id"])
    assert message.text == EXTRACTIVE and message.trace["route"] == "llm_replaced"
    assert message.trace["grounding"]["generated_text"] == CONTRADICTION

    reply = client.chat.completions.create(model="deskpilot", messages=QUESTION)
    assert reply.choices[0].message.content == EXTRACTIVE


def test_a_replacement_after_shown_sentences_rides_in_the_extension(
    served: Served, session: Session
) -> None:
    first = "Top-ups by card are free of charge for every customer."
    served.use_generator(FakeGenerator(answer=f"{first} {CONTRADICTION}"))
    client = sdk(served)
    chunks = list(client.chat.completions.create(model="deskpilot", messages=QUESTION, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == first  # only the checked sentence was sent
    extra = (chunks[-1].model_extra or {})["deskpilot"]
    assert extra["replace"] == {"text": EXTRACTIVE}
    assert stored(session, extra["message_id"]).text == EXTRACTIVE
    reply = client.chat.completions.create(model="deskpilot", messages=QUESTION)
    assert reply.choices[0].message.content == EXTRACTIVE


def test_max_tokens_caps_the_products_answer_length(served: Served) -> None:
    gen = served.use_generator(FakeGenerator())
    client = sdk(served)
    for limit in (5, 1000, None):
        kwargs: dict[str, Any] = {} if limit is None else {"max_tokens": limit}
        client.chat.completions.create(model="deskpilot", messages=QUESTION, **kwargs)
    # the product's max_answer_tokens (160 by default), lowered by a request, never raised
    assert [r["max_tokens"] for r in gen.requests] == [5, 160, 160]
    assert all(r["repetition_penalty"] == 1.1 for r in gen.requests)
