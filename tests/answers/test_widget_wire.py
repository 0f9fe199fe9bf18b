"""The widget's wire adapter on fixed event sequences: the SSE names and JSON payloads that
``frontend/widget/src/turn.ts`` parses, and the ``?stream=false`` document."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import pytest

from backend.answers.events import Done, Error, Meta, Replace, Sources, Token, TurnEvent
from backend.answers.widget_wire import as_sse, collect, event_payload

pytestmark = pytest.mark.unit

SOURCE = {"number": 1, "chunk_id": "doc-1", "title": "Fees", "kind": "cited", "score": 0.5}
META = Meta(
    route="llm",
    intent="transfer_fees",
    confidence=0.93,
    out_of_scope=False,
    reason="intent transfer_fees",
    llm_available=True,
    model="smollm2",
)


async def feed(events: Sequence[TurnEvent], closed: list[bool]) -> AsyncGenerator[TurnEvent, None]:
    try:
        for event in events:
            yield event
    finally:
        closed.append(True)


def wire(events: Sequence[TurnEvent]) -> list[tuple[str, dict[str, Any]]]:
    closed: list[bool] = []

    async def go() -> bytes:
        return b"".join([chunk async for chunk in as_sse(feed(events, closed))])

    body = asyncio.run(go()).decode()
    assert closed == [True]
    out = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((fields["event"], json.loads(fields["data"])))
    return out


def test_every_event_keeps_its_name_and_payload() -> None:
    events: list[TurnEvent] = [
        META,
        Token("Top-ups are free [1]"),
        Replace("Top-ups are free."),
        Sources([SOURCE]),
        Done(42),
    ]
    assert wire(events) == [
        (
            "meta",
            {
                "intent": "transfer_fees",
                "confidence": 0.93,
                "out_of_scope": False,
                "reason": "intent transfer_fees",
                "llm_available": True,
                "route": "llm",
                "model": "smollm2",
            },
        ),
        ("token", {"text": "Top-ups are free [1]"}),
        ("replace", {"text": "Top-ups are free."}),
        ("sources", {"sources": [SOURCE]}),
        ("done", {"message_id": 42}),
    ]


def test_meta_without_a_model_and_a_silent_turn() -> None:
    meta = Meta(route="silent", reason="an agent handles the conversation")
    name, data = event_payload(meta)
    assert name == "meta" and "model" not in data
    assert data == {
        "intent": None,
        "confidence": None,
        "out_of_scope": None,
        "reason": "an agent handles the conversation",
        "llm_available": False,
        "route": "silent",
    }
    assert wire([meta, Done(None)])[-1] == ("done", {"message_id": None})


def test_a_failure_is_an_error_event_then_the_fallback_tokens() -> None:
    events: list[TurnEvent] = [
        META,
        Token("Top-ups"),
        Error("generation_failed", "could not complete", discard_partial=True),
        Token("Top-ups by card are free."),
        Sources([]),
        Done(7),
    ]
    names = [name for name, _ in wire(events)]
    assert names == ["meta", "token", "error", "token", "sources", "done"]
    assert wire(events)[2][1] == {
        "code": "generation_failed",
        "message": "could not complete",
        "discard_partial": True,
    }


def test_the_json_variant_gathers_meta_sources_error_and_message_id() -> None:
    events: list[TurnEvent] = [
        META,
        Token("a"),
        Error("generation_failed", "oops"),
        Token("b"),
        Sources([SOURCE]),
        Done(9),
    ]

    async def go() -> Any:
        return await collect(feed(events, []))

    collected = asyncio.run(go())
    assert collected.message_id == 9
    document = collected.document({"id": 9, "text": "b"})
    assert list(document) == ["meta", "sources", "error", "message"]
    assert document["meta"]["route"] == "llm" and document["sources"] == [SOURCE]
    assert document["error"]["discard_partial"] is True and document["message"]["text"] == "b"
