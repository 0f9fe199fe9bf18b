"""The visitor's API: starting conversations, tokens, origins, isolation, history, handoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from backend.conversations import service as conversations
from backend.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Message,
    MessageRole,
)
from backend.core.settings import Settings
from backend.widget import service
from backend.widget.auth import issue_visitor_token
from tests.factories import auth, make_product, make_user
from tests.widget.conftest import MakeSiteKey, OwnDatabase, create_key
from tests.widget.helpers import SHOP, start, visitor_headers

pytestmark = pytest.mark.integration
BASE = "/api/v1/widget/conversations"


def test_start_conversation_and_use_the_token(
    widget: TestClient, session: Session, settings: Settings, make_site_key: MakeSiteKey
) -> None:
    product = make_product(session)
    key = make_site_key(product)
    resp = start(widget, key)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    conversation = body["conversation"]
    assert conversation["status"] == "bot" and conversation["product_id"] == product.id
    assert body["visitor_token_expires_at"]
    claims = jwt.decode(
        body["visitor_token"], settings.secret_key.get_secret_value(), algorithms=["HS256"]
    )
    assert claims["typ"] == "visitor" and claims["sk"] == key.public_id
    assert claims["pid"] == product.id and len(claims["vid"]) == 22
    stored = session.get(Conversation, conversation["id"])
    assert (
        stored is not None and stored.site_key_id == key.id and stored.visitor_id == claims["vid"]
    )

    headers = visitor_headers(body["visitor_token"])
    got = widget.get(f"{BASE}/{conversation['id']}", headers=headers)
    assert got.status_code == 200 and got.json()["id"] == conversation["id"]
    listed = widget.get(BASE, headers=headers).json()
    assert [c["id"] for c in listed] == [conversation["id"]]


def test_returning_visitor_keeps_identity_only_for_the_same_key(
    widget: TestClient, session: Session, make_site_key: MakeSiteKey
) -> None:
    product = make_product(session)
    key, other_key = make_site_key(product), make_site_key(product)
    first = start(widget, key).json()
    # The key in a header instead of the body, and the visitor's token from last time.
    resp = widget.post(
        BASE,
        headers={
            "X-Deskpilot-Site-Key": key.public_id,
            "X-Deskpilot-Visitor": first["visitor_token"],
            "Origin": SHOP,
        },
    )
    assert resp.status_code == 201, resp.text
    second = resp.json()
    listed = widget.get(BASE, headers=visitor_headers(second["visitor_token"])).json()
    assert [c["id"] for c in listed] == [second["conversation"]["id"], first["conversation"]["id"]]
    # A token of another key (or garbage) just means a new visitor.
    for token in (first["visitor_token"], "garbage"):
        fresh = start(widget, other_key, token=token).json()
        mine = widget.get(BASE, headers=visitor_headers(fresh["visitor_token"])).json()
        assert [c["id"] for c in mine] == [fresh["conversation"]["id"]]


def test_origins(widget: TestClient, session: Session, make_site_key: MakeSiteKey) -> None:
    product = make_product(session)
    key = make_site_key(product, origins=[SHOP, "http://localhost:3000"])
    assert start(widget, key, origin="https://SHOP.example.com").status_code == 201
    assert start(widget, key, origin="http://localhost:3000").status_code == 201
    assert start(widget, key, origin=None).status_code == 201  # server to server, curl
    for bad in ("https://evil.example.com", "http://shop.example.com", "null"):
        resp = start(widget, key, origin=bad)
        assert resp.status_code == 403, bad
        assert resp.json()["error"]["code"] == "origin_not_allowed"
    # A token used from another site's page is refused too.
    token = start(widget, key).json()["visitor_token"]
    resp = widget.get(BASE, headers=visitor_headers(token, origin="https://evil.example.com"))
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "origin_not_allowed"
    assert widget.get(BASE, headers=visitor_headers(token, origin=None)).status_code == 200

    anywhere = make_site_key(product, origins=["*"])
    assert start(widget, anywhere, origin="https://anything.example.org").status_code == 201
    assert start(widget, anywhere, origin="null").status_code == 201


def test_unknown_and_revoked_keys(
    widget: TestClient, session: Session, settings: Settings, make_site_key: MakeSiteKey
) -> None:
    product = make_product(session)
    key = make_site_key(product)
    token = start(widget, key).json()["visitor_token"]
    resp = start(widget, "pk_does-not-exist")
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "site_key_invalid"
    assert widget.post(BASE, json={}).status_code == 422

    admin = make_user(session, owner=True)
    url = f"/api/v1/admin/products/{product.id}/site-keys/{key.id}/revoke"
    assert widget.post(url, headers=auth(admin, settings)).status_code == 200
    resp = start(widget, key)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "site_key_invalid"
    resp = widget.get(BASE, headers=visitor_headers(token))
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "site_key_revoked"


def test_bad_tokens_are_401(
    widget: TestClient, session: Session, settings: Settings, make_site_key: MakeSiteKey
) -> None:
    product = make_product(session)
    key = make_site_key(product)
    secret = settings.secret_key.get_secret_value()
    past = datetime.now(UTC) - timedelta(hours=1)
    claims = {"typ": "visitor", "vid": "v" * 22, "sk": key.public_id, "pid": product.id}
    expired = jwt.encode({**claims, "exp": past}, secret, algorithm="HS256")
    forged = jwt.encode({**claims, "exp": past + timedelta(days=1)}, "x" * 32, algorithm="HS256")
    wrong_type = jwt.encode(
        {**claims, "typ": "access", "exp": past + timedelta(days=1)}, secret, algorithm="HS256"
    )
    user_token = auth(make_user(session), settings)["Authorization"].split()[1]
    cases = {
        None: "invalid_visitor_token",
        "garbage": "invalid_visitor_token",
        forged: "invalid_visitor_token",
        wrong_type: "invalid_visitor_token",
        user_token: "invalid_visitor_token",
        expired: "visitor_token_expired",
    }
    for token, code in cases.items():
        headers = {"X-Deskpilot-Visitor": token} if token else {}
        resp = widget.get(BASE, headers=headers)
        assert resp.status_code == 401, (token, resp.text)
        assert resp.json()["error"]["code"] == code


def test_visitors_only_see_their_own_conversations(
    widget: TestClient, session: Session, settings: Settings, make_site_key: MakeSiteKey
) -> None:
    product = make_product(session)
    key = make_site_key(product)
    a, b = start(widget, key).json(), start(widget, key).json()
    a_id, b_headers = a["conversation"]["id"], visitor_headers(b["visitor_token"])
    for suffix in ("", "/messages", "/events"):
        resp = widget.get(f"{BASE}/{a_id}{suffix}", headers=b_headers)
        assert resp.status_code == 404, suffix
    assert widget.post(f"{BASE}/{a_id}/handoff", headers=b_headers).status_code == 404
    listed = widget.get(BASE, headers=b_headers).json()
    assert [c["id"] for c in listed] == [b["conversation"]["id"]]
    # The same visitor id through another product's key sees nothing of this product.
    other_key = make_site_key(make_product(session))
    vid = jwt.decode(
        a["visitor_token"], settings.secret_key.get_secret_value(), algorithms=["HS256"]
    )["vid"]
    token, _, _ = issue_visitor_token(settings=settings, site_key=other_key, visitor_id=vid)
    assert widget.get(f"{BASE}/{a_id}", headers=visitor_headers(token)).status_code == 404


def test_history_never_shows_traces(
    widget: TestClient, session: Session, make_site_key: MakeSiteKey
) -> None:
    started = start(widget, make_site_key(make_product(session))).json()
    headers = visitor_headers(started["visitor_token"])
    conversation = session.get(Conversation, started["conversation"]["id"])
    assert conversation is not None
    conversations.add_message(
        session=session, conversation=conversation, role=MessageRole.visitor, text="hello?"
    )
    source = {"id": "faq-1", "title": "Refunds"}
    trace = {"intent": {"name": "refund", "confidence": 0.9}, "sources": [source], "prompt": "x"}
    for i in range(3):
        conversations.add_message(
            session=session,
            conversation=conversation,
            role=MessageRole.bot,
            text=f"answer {i}",
            trace=trace,
        )
    url = f"{BASE}/{conversation.id}/messages"
    messages = widget.get(url, headers=headers).json()
    assert [m["text"] for m in messages] == ["hello?", "answer 0", "answer 1", "answer 2"]
    assert all("trace" not in m and "author_id" not in m for m in messages)
    assert messages[1]["sources"] == [source] and messages[0]["sources"] == []
    page = widget.get(url, params={"before_id": messages[2]["id"], "limit": 1}, headers=headers)
    assert [m["text"] for m in page.json()] == ["answer 0"]
    assert widget.get(url, params={"limit": 0}, headers=headers).status_code == 422


def test_handoff(widget: TestClient, session: Session, make_site_key: MakeSiteKey) -> None:
    started = start(widget, make_site_key(make_product(session))).json()
    headers = visitor_headers(started["visitor_token"])
    cid = started["conversation"]["id"]
    url = f"{BASE}/{cid}/handoff"

    resp = widget.post(url, headers=headers)
    assert resp.status_code == 200 and resp.json()["status"] == "waiting_for_agent"
    assert widget.post(url, headers=headers).json()["status"] == "waiting_for_agent"
    rows = session.exec(select(Message).where(Message.conversation_id == cid)).all()
    assert [(m.role, m.text) for m in rows] == [(MessageRole.system, service.HANDOFF_TEXT)]
    kinds = session.exec(
        select(ConversationEvent.kind, ConversationEvent.payload)
        .where(ConversationEvent.conversation_id == cid)
        .order_by(col(ConversationEvent.id))
    ).all()
    assert [k for k, _ in kinds] == ["message", "status"]
    assert kinds[1][1]["status"] == "waiting_for_agent" and kinds[1][1]["previous"] == "bot"

    conversation = session.get(Conversation, cid)
    assert conversation is not None
    conversations.set_status(
        session=session, conversation=conversation, status=ConversationStatus.agent
    )
    assert widget.post(url, headers=headers).json()["status"] == "agent"
    conversations.set_status(
        session=session,
        conversation=conversation,
        status=ConversationStatus.closed,
        outcome="resolved",
    )
    resp = widget.post(url, headers=headers)
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "conversation_closed"
    assert len(session.exec(select(Message).where(Message.conversation_id == cid)).all()) == 1
    # A closed conversation's stream with nothing left to replay: 204, EventSource stops.
    last = session.exec(
        select(ConversationEvent.id).order_by(col(ConversationEvent.id).desc())
    ).first()
    events = widget.get(f"{BASE}/{cid}/events", headers={**headers, "Last-Event-ID": str(last)})
    assert events.status_code == 204


def test_cors(own_db: OwnDatabase) -> None:
    """Preflights are answered from the database through the app's own engine."""
    widget = own_db.client
    create_key(own_db.session, make_product(own_db.session), origins=[SHOP])
    preflight = {"Access-Control-Request-Method": "POST", "Origin": SHOP}
    resp = widget.options(BASE, headers=preflight)
    assert resp.status_code == 204
    assert resp.headers["access-control-allow-origin"] == SHOP
    assert "POST" in resp.headers["access-control-allow-methods"]
    allowed_headers = resp.headers["access-control-allow-headers"].lower()
    for name in ("content-type", "x-deskpilot-visitor", "x-deskpilot-site-key", "last-event-id"):
        assert name in allowed_headers
    assert resp.headers["access-control-max-age"] == "600"
    # The visitor's details are sent with a PUT (identify the visitor).
    put = {"Access-Control-Request-Method": "PUT", "Origin": SHOP}
    put["Access-Control-Request-Headers"] = "content-type, x-deskpilot-visitor"
    resp = widget.options(f"{BASE}/1/visitor", headers=put)
    assert resp.status_code == 204 and "PUT" in resp.headers["access-control-allow-methods"]

    evil = {**preflight, "Origin": "https://evil.example.com"}
    resp = widget.options(f"{BASE}/1/events", headers=evil)
    assert resp.status_code == 403 and "access-control-allow-origin" not in resp.headers
    assert resp.json()["error"]["code"] == "origin_not_allowed"

    # Actual responses (errors included) carry the origin, so the widget can read them.
    resp = widget.get(BASE, headers={"Origin": SHOP})
    assert resp.status_code == 401 and resp.headers["access-control-allow-origin"] == SHOP
    assert "Origin" in resp.headers["vary"]
    # Nothing outside the widget API, nothing without an Origin.
    assert (
        "access-control-allow-origin"
        not in widget.get("/api/v1/health", headers={"Origin": SHOP}).headers
    )
    assert "access-control-allow-origin" not in widget.get(BASE).headers


def test_cors_wildcard_key(own_db: OwnDatabase) -> None:
    create_key(own_db.session, make_product(own_db.session), origins=["*"])
    preflight = {"Access-Control-Request-Method": "GET", "Origin": "https://any.example.org"}
    resp = own_db.client.options(BASE, headers=preflight)
    assert resp.status_code == 204
    assert resp.headers["access-control-allow-origin"] == "https://any.example.org"
