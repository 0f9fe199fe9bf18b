"""Feedback on bot messages and the visitor's identity: widget routes, history, the agent's view."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, delete, select

from backend.conversations import service as conversations
from backend.conversations.models import Conversation, Message, MessageRole
from backend.core.settings import Settings
from backend.feedback.models import MessageFeedback
from backend.users.models import Role
from tests.factories import auth, make_product, make_user
from tests.widget.conftest import MakeSiteKey
from tests.widget.helpers import SHOP, start, visitor_headers

pytestmark = pytest.mark.integration


@dataclass
class Chat:
    conversation: Conversation
    headers: dict[str, str]
    question: Message
    answer: Message


def _chat(client: TestClient, session: Session, key_public_id: str) -> Chat:
    body = start(client, key_public_id).json()
    conversation = session.get(Conversation, body["conversation"]["id"])
    assert conversation is not None
    question = conversations.add_message(
        session=session, conversation=conversation, role=MessageRole.visitor, text="fees?"
    )
    answer = conversations.add_message(
        session=session,
        conversation=conversation,
        role=MessageRole.bot,
        text="No fees.",
        trace={"route": "fast_path", "sources": []},
    )
    return Chat(conversation, visitor_headers(body["visitor_token"]), question, answer)


def url(message_id: int | None) -> str:
    return f"/api/v1/widget/messages/{message_id}/feedback"


def test_rate_change_and_see_it(
    widget: TestClient, session: Session, settings: Settings, make_site_key: MakeSiteKey
) -> None:
    product = make_product(session)
    chat = _chat(widget, session, make_site_key(product).public_id)
    resp = widget.post(url(chat.answer.id), json={"rating": "up"}, headers=chat.headers)
    assert resp.status_code == 200, resp.text
    first = resp.json()
    assert first["rating"] == "up" and first["comment"] is None
    assert first["message_id"] == chat.answer.id
    assert first["conversation_id"] == chat.conversation.id and first["product_id"] == product.id
    assert resp.headers["access-control-allow-origin"] == SHOP

    body = {"rating": "down", "comment": "  It does charge a fee.  "}
    second = widget.post(url(chat.answer.id), json=body, headers=chat.headers).json()
    assert second["id"] == first["id"] and second["created_at"] == first["created_at"]
    assert second["rating"] == "down" and second["comment"] == "It does charge a fee."
    assert second["updated_at"] >= first["updated_at"]
    rows = session.exec(
        select(MessageFeedback).where(MessageFeedback.message_id == chat.answer.id)
    ).all()
    assert len(rows) == 1  # one per message

    # The visitor's history shows it (after a reload); the question has none.
    history = widget.get(
        f"/api/v1/widget/conversations/{chat.conversation.id}/messages", headers=chat.headers
    ).json()
    assert [m["feedback"] for m in history] == [
        None,
        {"rating": "down", "comment": "It does charge a fee."},
    ]
    # The agent sees it next to the message's trace.
    agent = auth(make_user(session, product=product, role=Role.agent), settings)
    detail = widget.get(f"/api/v1/agent/conversations/{chat.conversation.id}", headers=agent)
    answer = detail.json()["messages"][1]
    assert answer["trace"]["route"] == "fast_path"
    assert answer["feedback"] == {"rating": "down", "comment": "It does charge a fee."}

    # A blank comment is no comment.
    third = widget.post(
        url(chat.answer.id), json={"rating": "up", "comment": "   "}, headers=chat.headers
    ).json()
    assert third["comment"] is None and third["rating"] == "up"
    # Deleting the message deletes its feedback.
    session.exec(delete(Message).where(col(Message.id) == chat.answer.id))  # type: ignore[call-overload]
    session.commit()
    assert (
        session.exec(select(MessageFeedback).where(MessageFeedback.id == first["id"])).first()
        is None
    )


def test_feedback_refusals(
    widget: TestClient, session: Session, make_site_key: MakeSiteKey
) -> None:
    product = make_product(session)
    key = make_site_key(product)
    mine, theirs = _chat(widget, session, key.public_id), _chat(widget, session, key.public_id)

    resp = widget.post(url(mine.question.id), json={"rating": "up"}, headers=mine.headers)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "not_a_bot_message"
    for message_id in (theirs.answer.id, 999_999_999):
        resp = widget.post(url(message_id), json={"rating": "up"}, headers=mine.headers)
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
    for body in (
        {"rating": "meh"},
        {"comment": "no rating"},
        {"rating": "down", "comment": "x" * 2001},
    ):
        resp = widget.post(url(mine.answer.id), json=body, headers=mine.headers)
        assert resp.status_code == 422, body
    resp = widget.post(
        url(mine.answer.id), json={"rating": "down", "comment": "x" * 2001}, headers=mine.headers
    )
    assert "comment is 2001 characters; at most 2000" in resp.json()["error"]["message"]
    assert widget.post(url(mine.answer.id), json={"rating": "up"}).status_code == 401
    evil = {**mine.headers, "Origin": "https://evil.example.org"}
    assert widget.post(url(mine.answer.id), json={"rating": "up"}, headers=evil).status_code == 403
    assert (
        session.exec(
            select(MessageFeedback).where(MessageFeedback.conversation_id == mine.conversation.id)
        ).first()
        is None
    )


def test_identify_visitor(
    widget: TestClient, session: Session, settings: Settings, make_site_key: MakeSiteKey
) -> None:
    product = make_product(session)
    key = make_site_key(product)
    mine, theirs = _chat(widget, session, key.public_id), _chat(widget, session, key.public_id)
    path = f"/api/v1/widget/conversations/{mine.conversation.id}/visitor"
    # (The browser's preflight for this PUT: tests/widget/test_widget_api.py::test_cors.)
    body = {"name": "  Ana Lima ", "email": " ana@example.com "}
    resp = widget.put(path, json=body, headers=mine.headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["visitor_name"] == "Ana Lima"
    assert resp.json()["visitor_email"] == "ana@example.com"
    agent = auth(make_user(session, product=product, role=Role.agent), settings)
    detail = widget.get(f"/api/v1/agent/conversations/{mine.conversation.id}", headers=agent).json()
    assert detail["conversation"]["visitor_name"] == "Ana Lima"
    inbox = widget.get(f"/api/v1/agent/products/{product.id}/conversations", headers=agent).json()
    assert {c["visitor_email"] for c in inbox} == {"ana@example.com", None}

    for bad, field in (
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"name": "x" * 201}, "name"),
    ):
        resp = widget.put(path, json=bad, headers=mine.headers)
        assert resp.status_code == 422 and resp.json()["error"]["message"].startswith(field)
    other = f"/api/v1/widget/conversations/{theirs.conversation.id}/visitor"
    assert widget.put(other, json=body, headers=mine.headers).status_code == 404
    # PUT replaces: nulls (or blanks) clear what was given.
    cleared = widget.put(path, json={"name": "", "email": None}, headers=mine.headers).json()
    assert cleared["visitor_name"] is None and cleared["visitor_email"] is None
