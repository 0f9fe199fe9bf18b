"""POST /api/v1/widget/conversations/{id}/messages through the HTTP API: the SSE contract, the
non-streaming variant, bad input, persistence and traces. The models behind the pipeline are
deterministic fakes here (tests/live runs the same path on the real models and vLLM)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.conversations import service as conversations
from backend.conversations.models import ConversationStatus, Message
from backend.core.settings import Settings
from ml.testing.fake_generator import FakeGenerator
from ml.testing.fakes import FakeKnowledge
from ml.testing.fakes import fixed_predictor as predictor
from tests.answers.test_grounded_pipeline import REFUND, EmbeddingKnowledge
from tests.answers.test_pipeline import FAQ, PASSAGE
from tests.factories import auth, make_product, make_user
from tests.widget.conftest import MakeSiteKey
from tests.widget.helpers import start, visitor_headers

pytestmark = pytest.mark.integration


def parse(body: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


@pytest.fixture
def chat(
    widget: TestClient, session: Session, make_site_key: MakeSiteKey
) -> tuple[TestClient, int, dict[str, str]]:
    """A started conversation with fake models on the app: (client, conversation id, headers)."""
    product = make_product(session)
    key = make_site_key(product)
    body = start(widget, key).json()
    state = widget.app.state  # type: ignore[attr-defined]
    state.knowledge = FakeKnowledge([PASSAGE, FAQ])
    state.intents.predict = predictor("transfer_fees")
    state.llm.client, state.llm.healthy = FakeGenerator(), True
    return widget, int(body["conversation"]["id"]), visitor_headers(body["visitor_token"])


def url(conversation_id: int) -> str:
    return f"/api/v1/widget/conversations/{conversation_id}/messages"


def test_streamed_answer_event_order_and_persistence(
    chat: tuple[TestClient, int, dict[str, str]], session: Session
) -> None:
    client, cid, headers = chat
    resp = client.post(url(cid), json={"text": "  fees for top-ups?  "}, headers=headers)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["cache-control"] == "no-cache"
    events = parse(resp.text)
    names = [k for k, _ in events]
    assert names[0] == "meta" and names[-2:] == ["sources", "done"]
    assert set(names[1:-2]) == {"token"}
    assert events[0][1]["route"] == "llm" and events[0][1]["intent"] == "transfer_fees"
    done = events[-1][1]
    stored = session.get(Message, done["message_id"])
    assert stored is not None and stored.role == "bot"
    assert stored.text == "".join(d["text"] for k, d in events if k == "token")
    assert stored.trace["route"] == "llm" and stored.trace["cited"] == [PASSAGE.id]
    history = client.get(url(cid), headers=headers).json()
    assert [m["role"] for m in history] == ["visitor", "bot"]
    assert history[0]["text"] == "fees for top-ups?"  # stored stripped
    assert history[1]["sources"][0]["chunk_id"] == PASSAGE.id


def test_non_streaming_variant(chat: tuple[TestClient, int, dict[str, str]]) -> None:
    client, cid, headers = chat
    resp = client.post(url(cid) + "?stream=false", json={"text": "fees?"}, headers=headers)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["meta"]["route"] == "llm" and body["error"] is None
    assert body["message"]["role"] == "bot" and body["message"]["text"].endswith("[1]")
    assert body["sources"][0]["kind"] == "cited"


def test_generator_failure_is_an_error_event_then_fallback_and_done(
    chat: tuple[TestClient, int, dict[str, str]], session: Session
) -> None:
    client, cid, headers = chat
    client.app.state.llm.client = FakeGenerator(fail_after_tokens=2)  # type: ignore[attr-defined]
    events = parse(client.post(url(cid), json={"text": "fees?"}, headers=headers).text)
    names = [k for k, _ in events]
    assert "error" in names and names[-1] == "done"
    assert names[names.index("error") + 1 :] == ["token", "sources", "done"]
    stored = session.get(Message, events[-1][1]["message_id"])
    assert stored is not None and stored.trace["error"]["code"] == "GeneratorUnavailable"
    assert client.get("/api/v1/health").status_code == 200


def test_handoff_message_changes_status(chat: tuple[TestClient, int, dict[str, str]]) -> None:
    client, cid, headers = chat
    client.app.state.intents.predict = predictor("human_agent")  # type: ignore[attr-defined]
    events = parse(client.post(url(cid), json={"text": "a person please"}, headers=headers).text)
    assert events[0][1]["route"] == "handoff"
    conversation = client.get(f"/api/v1/widget/conversations/{cid}", headers=headers).json()
    assert conversation["status"] == "waiting_for_agent"
    # while waiting for a person, the bot stays silent; the message is still stored
    events = parse(client.post(url(cid), json={"text": "hello?"}, headers=headers).text)
    assert [k for k, _ in events] == ["meta", "done"]
    assert events[0][1]["route"] == "silent" and events[1][1]["message_id"] is None
    roles = [m["role"] for m in client.get(url(cid), headers=headers).json()]
    assert roles == ["visitor", "bot", "visitor"]


@pytest.mark.parametrize(
    ("text", "status", "code"),
    [
        ("", 422, "invalid_input"),
        ("   \n\t ", 422, "invalid_input"),
        ("x" * 4001, 413, "message_too_long"),
        ("x" * 100_000, 413, "payload_too_large"),
    ],
)
def test_bad_messages_are_refused_and_nothing_is_stored(
    chat: tuple[TestClient, int, dict[str, str]], text: str, status: int, code: str
) -> None:
    client, cid, headers = chat
    resp = client.post(url(cid), json={"text": text}, headers=headers)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code
    assert client.get(url(cid), headers=headers).json() == []


def test_other_visitors_unknown_and_closed_conversations(
    chat: tuple[TestClient, int, dict[str, str]],
    session: Session,
    make_site_key: MakeSiteKey,
    settings: Settings,
) -> None:
    client, cid, headers = chat
    assert client.post(url(cid), json={"text": "hi"}, headers={}).status_code == 401
    bad = visitor_headers("not-a-token")
    assert client.post(url(cid), json={"text": "hi"}, headers=bad).status_code == 401
    other = start(client, make_site_key(make_product(session))).json()
    other_headers = visitor_headers(other["visitor_token"])
    resp = client.post(url(cid), json={"text": "hi"}, headers=other_headers)
    assert resp.status_code == 404  # never another visitor's data, not even its existence
    assert client.post(url(99_999_999), json={"text": "hi"}, headers=headers).status_code == 404
    conversation = conversations.get_conversation(session=session, conversation_id=cid)
    conversations.set_status(
        session=session, conversation=conversation, status=ConversationStatus.closed, outcome="x"
    )
    resp = client.post(url(cid), json={"text": "hi"}, headers=headers)
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "conversation_closed"
    admin = make_user(session, owner=True)
    detail = client.get(f"/api/v1/agent/conversations/{cid}", headers=auth(admin, settings))
    assert detail.status_code == 200 and len(detail.json()["messages"]) == 0


def test_disallowed_origin_is_403(chat: tuple[TestClient, int, dict[str, str]]) -> None:
    client, cid, headers = chat
    resp = client.post(
        url(cid), json={"text": "hi"}, headers={**headers, "Origin": "https://evil.example"}
    )
    assert resp.status_code == 403


def test_assistant_settings_admin_api(
    client: TestClient, session: Session, settings: Settings
) -> None:
    product = make_product(session)
    admin = auth(make_user(session, owner=True), settings)
    path = f"/api/v1/admin/products/{product.id}/assistant"
    got = client.get(path, headers=admin).json()
    assert got["min_confidence"] == 0.90 and "{product}" in got["greeting_reply"]
    assert got["min_confidence_confirmed"] == 0.75 and got["min_confidence_reserved"] == 0.60
    resp = client.put(path, json={"min_confidence_confirmed": 0.3}, headers=admin)
    assert resp.json()["min_confidence_confirmed"] == 0.3 and resp.json()["min_confidence"] == 0.9
    assert (
        client.put(path, json={"min_confidence_confirmed": -0.1}, headers=admin).status_code == 422
    )
    resp = client.put(path, json={"min_confidence": 0.5, "persona": "Be warm."}, headers=admin)
    assert resp.status_code == 200 and resp.json()["min_confidence"] == 0.5
    assert client.get(path, headers=admin).json()["persona"] == "Be warm."
    bad = client.put(path, json={"min_confidence": 1.5}, headers=admin)
    assert bad.status_code == 422
    assert client.get(path, headers=admin).json()["min_confidence"] == 0.5


def test_a_contradicting_answer_is_replaced_and_both_texts_are_stored(
    chat: tuple[TestClient, int, dict[str, str]], session: Session, settings: Settings
) -> None:
    client, cid, headers = chat
    state = client.app.state  # type: ignore[attr-defined]
    state.knowledge = EmbeddingKnowledge([REFUND])
    state.llm.client = FakeGenerator(answer="No, you cannot get a refund.")
    body = {"text": "Can I get a refund for a card payment I don't recognise?"}
    events = parse(client.post(url(cid), json=body, headers=headers).text)
    assert [k for k, _ in events] == ["meta", "token", "sources", "done"]
    assert events[0][1]["route"] == "llm"
    shown = "".join(d["text"] for k, d in events if k == "token")
    assert "cannot" not in shown and shown.startswith("You can ask for a refund")
    admin = auth(make_user(session, owner=True), settings)
    detail = client.get(f"/api/v1/agent/conversations/{cid}", headers=admin).json()
    bot = detail["messages"][-1]
    assert bot["role"] == "bot" and bot["text"] == shown
    trace = bot["trace"]
    assert trace["route"] == "llm_replaced"
    grounding = trace["grounding"]
    assert grounding["reason"] == "contradiction" and grounding["send"] is False
    assert grounding["generated_text"] == "No, you cannot get a refund."
    assert grounding["sent_text"] == shown and grounding["claims"][0]["reasons"]
    assert trace["language"]["supported"] is True


def test_the_stored_settings_carry_the_grounding_threshold(
    client: TestClient, session: Session, settings: Settings
) -> None:
    product = make_product(session)
    admin = auth(make_user(session, owner=True), settings)
    path = f"/api/v1/admin/products/{product.id}/assistant"
    got = client.get(path, headers=admin).json()
    assert got["max_unsupported_share"] == 0.0 and got["max_answer_tokens"] == 160
    resp = client.put(path, json={"max_unsupported_share": 0.25}, headers=admin)
    assert resp.status_code == 200 and resp.json()["max_unsupported_share"] == 0.25
    assert client.get(path, headers=admin).json()["max_unsupported_share"] == 0.25
    for bad in (-0.1, 1.5):
        resp = client.put(path, json={"max_unsupported_share": bad}, headers=admin)
        assert resp.status_code == 422
