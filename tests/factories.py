"""Factories per domain: products, users with roles, tokens, jobs."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from backend.conversations import service as conversations
from backend.conversations.models import Conversation, ConversationStatus
from backend.core.settings import Settings
from backend.jobs import service as jobs
from backend.jobs.models import Job
from backend.products import service as products
from backend.products.models import Product, ProductCreate
from backend.users import service as users
from backend.users.models import Role, User, UserCreate

PASSWORD = "correct horse battery"


def make_product(session: Session, slug: str | None = None) -> Product:
    slug = slug or f"p-{uuid.uuid4().hex[:8]}"
    return products.create_product(
        session=session, data=ProductCreate(slug=slug, name=slug.title())
    )


def make_user(
    session: Session,
    *,
    product: Product | None = None,
    role: Role | None = None,
    owner: bool = False,
    email: str | None = None,
) -> User:
    email = email or f"u-{uuid.uuid4().hex[:8]}@example.com"
    user = users.create_user(
        session=session, data=UserCreate(email=email, password=PASSWORD, is_owner=owner)
    )
    if product is not None and role is not None:
        products.set_membership(session=session, user=user, product_id=product.id or 0, role=role)
    return user


def token_for(user: User, settings: Settings, minutes: int = 30) -> str:
    token, _ = users.issue_token(
        user=user, secret=settings.secret_key.get_secret_value(), minutes=minutes
    )
    return token


def auth(user: User, settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(user, settings)}"}


def make_job(session: Session, product: Product, kind: str = "selfcheck") -> Job:
    return jobs.create_job(session=session, kind=kind, product_id=product.id, params={"steps": 1})


def make_conversation(
    session: Session,
    product: Product,
    *,
    status: ConversationStatus = ConversationStatus.bot,
    visitor_id: str | None = None,
) -> Conversation:
    conversation = conversations.create_conversation(
        session=session,
        product_id=product.id or 0,
        visitor_id=visitor_id or f"v-{uuid.uuid4().hex[:12]}",
    )
    if status != ConversationStatus.bot:
        outcome = "resolved" if status == ConversationStatus.closed else None
        conversations.set_status(
            session=session, conversation=conversation, status=status, outcome=outcome
        )
    return conversation
