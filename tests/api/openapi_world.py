"""A fresh app on a database of its own, with one of every object and every role's credentials.

The Schemathesis pass uses it: each path parameter has a real object to hit, and each role
(owner, product admin, agent, widget visitor, API client, anonymous) has the headers it sends.
Objects that a generated request may change for good (revoke, delete, remove, demote) are spares,
so the credentials of the roles keep working for the whole pass.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlmodel import Session

from backend.conversations import service as conversations
from backend.conversations.models import ConversationStatus, MessageRole
from backend.core.settings import Settings, get_settings
from backend.intents import service as intents
from backend.intents.models import IntentCreate
from backend.main import create_app
from backend.openai_api import service as api_keys
from backend.openai_api.models import ApiKeyCreate
from backend.users.models import Role
from backend.widget import service as widget
from backend.widget.auth import SITE_KEY_HEADER, VISITOR_HEADER, issue_visitor_token
from backend.widget.models import SiteKeyCreate
from tests.factories import auth, make_conversation, make_job, make_product, make_user
from tests.stack import running_stack

ROLES = ("owner", "admin", "agent", "visitor", "api_client", "anonymous")
EVENTS_PATH = "/api/v1/widget/conversations/{conversation_id}/events"


@dataclass
class World:
    """The running app, the real value of each path parameter, and each role's headers."""

    app: FastAPI
    settings: Settings
    ids: dict[str, Any]
    headers: dict[str, dict[str, str]]
    # Path parameters that take another object on one path (the event stream of an open
    # conversation never ends; a closed one replays its events and ends).
    per_path: dict[str, dict[str, Any]] = field(default_factory=dict)
    site_key: str = ""
    # The statuses each operation answered, per role (what the pass really exercised).
    seen: dict[str, dict[str, set[int]]] = field(default_factory=dict)

    def real_path_parameters(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with every parameter that names a seeded object set to that object."""
        known = {**self.ids, **self.per_path.get(path, {})}
        return {name: known.get(name, value) for name, value in params.items()}


def _seed(session: Session, settings: Settings) -> tuple[dict[str, Any], dict[str, Any], str]:
    product = make_product(session)
    pid = product.id or 0
    owner = make_user(session, owner=True)
    admin = make_user(session, product=product, role=Role.admin)
    agent = make_user(session, product=product, role=Role.agent)
    spare_user = make_user(session, product=product, role=Role.agent)
    origins = SiteKeyCreate(name="site", allowed_origins=["https://shop.example.com"])
    site_key = widget.create_site_key(session=session, product_id=pid, data=origins)
    spare_key = widget.create_site_key(session=session, product_id=pid, data=origins)
    token, visitor_id, _ = issue_visitor_token(settings=settings, site_key=site_key)
    open_chat = make_conversation(session, product, visitor_id=visitor_id)
    conversations.add_message(
        session=session, conversation=open_chat, role=MessageRole.visitor, text="hello"
    )
    answer = conversations.add_message(
        session=session, conversation=open_chat, role=MessageRole.bot, text="hi, how can I help?"
    )
    closed_chat = make_conversation(
        session, product, visitor_id=visitor_id, status=ConversationStatus.closed
    )
    intent = intents.create_intent(
        session=session, product_id=pid, data=IntentCreate(name="card_arrival")
    )
    example = intents.add_example(session=session, intent=intent, text="where is my card")
    client_key = api_keys.create_api_key(
        session=session, product_id=pid, data=ApiKeyCreate(name="a")
    )
    spare_api_key = api_keys.create_api_key(
        session=session, product_id=pid, data=ApiKeyCreate(name="spare")
    )
    ids = {
        "product_id": pid,
        "user_id": spare_user.id,
        "job_id": make_job(session, product).id,
        "conversation_id": open_chat.id,
        "message_id": answer.id,
        "intent_id": intent.id,
        "example_id": example.id,
        "site_key_id": spare_key.id,
        "api_key_id": spare_api_key.id,
        "document_id": 1,
        "version": "v-none",
    }
    headers = {
        "owner": auth(owner, settings),
        "admin": auth(admin, settings),
        "agent": auth(agent, settings),
        "visitor": {VISITOR_HEADER: token, SITE_KEY_HEADER: site_key.public_id},
        "api_client": {"Authorization": f"Bearer {client_key.key}"},
        "anonymous": {},
    }
    per_path = {EVENTS_PATH: {"conversation_id": closed_chat.id}}
    return ids, {"headers": headers, "per_path": per_path}, site_key.public_id


@contextlib.contextmanager
def seeded_world(tmp: Path) -> Iterator[World]:
    """Build the world on a stack of its own (a fresh PostgreSQL database, dropped after)."""
    from schemathesis.python import asgi

    with running_stack(tmp, "deskpilot_openapi") as stack:
        get_settings.cache_clear()
        with stack.session() as session:
            ids, extra, site_key = _seed(session, stack.settings)
        app = create_app(stack.settings)
        try:
            yield World(app, stack.settings, ids, site_key=site_key, **extra)
        finally:
            asgi.shutdown_lifespans()  # Schemathesis started the app's lifespan on first use
