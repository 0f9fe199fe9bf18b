"""Agent API: the inbox, a conversation with traces, reply, hand back, close; who may do what."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.conversations import service as conversations
from backend.conversations.agent_service import HANDBACK_TEXT
from backend.conversations.models import (
    MAX_MESSAGE_CHARS,
    Conversation,
    ConversationStatus,
    MessageRole,
)
from backend.core.settings import Settings
from backend.products.models import Product
from backend.users.models import Role, User
from tests.factories import auth, make_conversation, make_product, make_user

pytestmark = pytest.mark.integration
AGENT = "/api/v1/agent"


@dataclass
class Desk:
    product: Product
    other: Product
    agent: User
    headers: dict[str, str]


@pytest.fixture
def desk(session: Session, settings: Settings) -> Desk:
    product, other = make_product(session), make_product(session)
    agent = make_user(session, product=product, role=Role.agent)
    return Desk(product, other, agent, auth(agent, settings))


@pytest.fixture
def published(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The conversation ids published on the app's event bus during the test."""
    seen: list[int] = []
    bus = getattr(client.app.state, "events", None)  # type: ignore[attr-defined]
    if bus is None:
        client.app.state.events = SimpleNamespace(publish=seen.append)  # type: ignore[attr-defined]
    else:
        original = bus.publish

        def publish(conversation_id: int) -> None:
            seen.append(conversation_id)
            original(conversation_id)

        monkeypatch.setattr(bus, "publish", publish)
    return seen


def _say(session: Session, conversation: Conversation, text: str, **kw: object) -> None:
    conversations.add_message(
        session=session,
        conversation=conversation,
        role=kw.pop("role", MessageRole.visitor),  # type: ignore[arg-type]
        text=text,
        **kw,  # type: ignore[arg-type]
    )


def test_only_members_of_the_product(
    client: TestClient, session: Session, settings: Settings, desk: Desk
) -> None:
    theirs = make_conversation(session, desk.other)
    mine = make_conversation(session, desk.product)
    for method, path, body in [
        ("GET", f"/products/{desk.other.id}/conversations", None),
        ("GET", f"/conversations/{theirs.id}", None),
        ("POST", f"/conversations/{theirs.id}/messages", {"text": "hi"}),
        ("POST", f"/conversations/{theirs.id}/handback", None),
        ("POST", f"/conversations/{theirs.id}/close", {"outcome": "resolved"}),
    ]:
        resp = client.request(method, AGENT + path, headers=desk.headers, json=body)
        assert resp.status_code == 403, f"{method} {path}: {resp.text}"
        assert resp.json()["error"]["code"] == "forbidden"
        resp = client.request(method, AGENT + path, json=body)
        assert resp.status_code == 401, f"{method} {path}: {resp.text}"
    assert client.get(f"{AGENT}/conversations/{theirs.id}").status_code == 401
    assert client.get(f"{AGENT}/conversations/999999", headers=desk.headers).status_code == 404
    assert client.get(f"{AGENT}/conversations/{mine.id}", headers=desk.headers).status_code == 200
    admin = make_user(session, product=desk.product, role=Role.admin)
    owner = make_user(session, owner=True)
    for user in (admin, owner):
        resp = client.get(f"{AGENT}/conversations/{mine.id}", headers=auth(user, settings))
        assert resp.status_code == 200, resp.text
    other_agent = make_user(session, product=desk.other, role=Role.agent)
    resp = client.get(f"{AGENT}/conversations/{mine.id}", headers=auth(other_agent, settings))
    assert resp.status_code == 403


def test_list_filters_previews_and_pages(client: TestClient, session: Session, desk: Desk) -> None:
    bot = make_conversation(session, desk.product)
    waiting = make_conversation(session, desk.product, status=ConversationStatus.waiting_for_agent)
    taken = make_conversation(session, desk.product, status=ConversationStatus.agent)
    make_conversation(session, desk.product, status=ConversationStatus.closed)
    make_conversation(session, desk.other, status=ConversationStatus.waiting_for_agent)
    _say(session, waiting, "first question")
    _say(session, waiting, "x" * 300)
    _say(session, bot, "hello")  # the newest activity
    url = f"{AGENT}/products/{desk.product.id}/conversations"

    rows = client.get(url, headers=desk.headers).json()
    assert len(rows) == 4
    assert rows[0]["id"] == bot.id and rows[1]["id"] == waiting.id
    assert rows[0]["last_message_preview"] == "hello" and rows[0]["message_count"] == 1
    assert rows[1]["message_count"] == 2 and len(rows[1]["last_message_preview"]) == 200
    assert rows[1]["last_message_role"] == "visitor" and rows[1]["status"] == "waiting_for_agent"
    assert rows[2]["message_count"] == 0 and rows[2]["last_message_preview"] is None

    resp = client.get(url, params={"status": "waiting_for_agent"}, headers=desk.headers)
    assert [r["id"] for r in resp.json()] == [waiting.id]
    resp = client.get(url, params={"status": ["waiting_for_agent", "agent"]}, headers=desk.headers)
    assert {r["id"] for r in resp.json()} == {waiting.id, taken.id}
    resp = client.get(url, params={"status": "agent,bot"}, headers=desk.headers)
    assert {r["id"] for r in resp.json()} == {bot.id, taken.id}
    resp = client.get(url, params={"status": "pending"}, headers=desk.headers)
    assert resp.status_code == 422
    assert resp.json()["error"]["message"] == (
        "invalid status 'pending': use one of bot, waiting_for_agent, agent, closed"
    )

    first = client.get(url, params={"limit": 2}, headers=desk.headers).json()
    after = first[-1]["id"]
    rest = client.get(url, params={"limit": 2, "before_id": after}, headers=desk.headers).json()
    assert [r["id"] for r in first + rest] == [r["id"] for r in rows]
    assert client.get(url, params={"before_id": 999999}, headers=desk.headers).status_code == 422


def test_reply_takes_over_the_conversation(
    client: TestClient, session: Session, desk: Desk, published: list[int]
) -> None:
    conv = make_conversation(session, desk.product, status=ConversationStatus.waiting_for_agent)
    resp = client.post(
        f"{AGENT}/conversations/{conv.id}/messages",
        headers=desk.headers,
        json={"text": "  Hi, I'm Sam from support.  "},
    )
    assert resp.status_code == 201, resp.text
    message = resp.json()
    assert message["role"] == "agent" and message["author_id"] == desk.agent.id
    assert message["text"] == "Hi, I'm Sam from support."
    detail = client.get(f"{AGENT}/conversations/{conv.id}", headers=desk.headers).json()
    assert detail["conversation"]["status"] == "agent"
    assert detail["conversation"]["assigned_agent_id"] == desk.agent.id
    assert [m["role"] for m in detail["messages"]] == ["agent"]
    assert published == [conv.id]


def test_reply_text_limits(client: TestClient, session: Session, desk: Desk) -> None:
    conv = make_conversation(session, desk.product)
    url = f"{AGENT}/conversations/{conv.id}/messages"
    for body in ({"text": ""}, {"text": "   "}, {}):
        resp = client.post(url, headers=desk.headers, json=body)
        assert resp.status_code == 422, body
        assert resp.json()["error"]["code"] == "invalid_input"
    resp = client.post(url, headers=desk.headers, json={"text": "y" * (MAX_MESSAGE_CHARS + 1)})
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "message_too_long"
    session.refresh(conv)
    assert conv.status == ConversationStatus.bot  # nothing was stored


def test_handback(client: TestClient, session: Session, desk: Desk, published: list[int]) -> None:
    conv = make_conversation(session, desk.product, status=ConversationStatus.waiting_for_agent)
    client.post(
        f"{AGENT}/conversations/{conv.id}/messages", headers=desk.headers, json={"text": "on it"}
    )
    resp = client.post(f"{AGENT}/conversations/{conv.id}/handback", headers=desk.headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "bot" and resp.json()["assigned_agent_id"] is None
    messages = client.get(f"{AGENT}/conversations/{conv.id}", headers=desk.headers).json()[
        "messages"
    ]
    assert (messages[-1]["role"], messages[-1]["text"]) == ("system", HANDBACK_TEXT)
    assert published == [conv.id, conv.id]
    again = client.post(f"{AGENT}/conversations/{conv.id}/handback", headers=desk.headers)
    assert again.status_code == 200 and again.json()["status"] == "bot"
    assert (
        len(client.get(f"{AGENT}/conversations/{conv.id}", headers=desk.headers).json()["messages"])
        == 2
    )
    closed = make_conversation(session, desk.product, status=ConversationStatus.closed)
    resp = client.post(f"{AGENT}/conversations/{closed.id}/handback", headers=desk.headers)
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "conversation_closed"


def test_close_with_outcome(
    client: TestClient, session: Session, desk: Desk, published: list[int]
) -> None:
    conv = make_conversation(session, desk.product, status=ConversationStatus.agent)
    url = f"{AGENT}/conversations/{conv.id}/close"
    for body in ({"outcome": "fixed"}, {}):
        resp = client.post(url, headers=desk.headers, json=body)
        assert resp.status_code == 422 and "outcome" in resp.json()["error"]["message"]
    resp = client.post(url, headers=desk.headers, json={"outcome": "spam"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "closed" and body["outcome"] == "spam" and body["closed_at"]
    assert published == [conv.id]
    again = client.post(url, headers=desk.headers, json={"outcome": "resolved"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conversation_closed"
    resp = client.post(
        f"{AGENT}/conversations/{conv.id}/messages", headers=desk.headers, json={"text": "hi"}
    )
    assert resp.status_code == 409


def test_agents_see_traces(client: TestClient, session: Session, desk: Desk) -> None:
    conv = make_conversation(session, desk.product)
    _say(session, conv, "where is my parcel?")
    trace = {"route": "rag", "intent": {"name": "delivery", "confidence": 0.91}, "sources": []}
    _say(session, conv, "It ships in 2 days.", role=MessageRole.bot, trace=trace)
    resp = client.get(f"{AGENT}/conversations/{conv.id}", headers=desk.headers)
    assert resp.status_code == 200
    detail = resp.json()
    assert detail["conversation"]["id"] == conv.id
    assert [m["role"] for m in detail["messages"]] == ["visitor", "bot"]
    assert detail["messages"][1]["trace"] == trace
    assert detail["messages"][0]["trace"] == {} and detail["messages"][0]["author_id"] is None
