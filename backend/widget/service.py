"""Site keys and the visitor's side of conversations (keyword-only; commits happen here)."""

from __future__ import annotations

import secrets

from sqlmodel import Session, col, select

from backend.conversations import service as conversations
from backend.conversations.models import Conversation, ConversationStatus, MessageRole
from backend.core.db import commit_or_conflict, utcnow
from backend.core.errors import NotFound
from backend.products.models import Product
from backend.widget.models import (
    Language,
    SiteKey,
    SiteKeyCreate,
    SiteKeyUpdate,
    VisitorIdentity,
    WidgetConfig,
    WidgetTheme,
)

HANDOFF_TEXT = "Visitor asked for a person."
PUBLIC_ID_PREFIX = "pk_"
DEMO_KEY_NAME = "demo"  # the key /demo embeds; `deskpilot up` creates it


def new_public_id() -> str:
    """A fresh public id: ``pk_`` and 24 url-safe random characters."""
    return PUBLIC_ID_PREFIX + secrets.token_urlsafe(18)


def create_site_key(*, session: Session, product_id: int, data: SiteKeyCreate) -> SiteKey:
    """Create an active site key for the product with the given (normalised) origins."""
    key = SiteKey(
        product_id=product_id,
        public_id=new_public_id(),
        name=data.name,
        allowed_origins=list(data.allowed_origins),
        theme=data.theme.model_dump(mode="json"),
        language=data.language.value,
        rate_limit_per_minute=data.rate_limit_per_minute,
        ip_rate_limit_per_minute=data.ip_rate_limit_per_minute,
    )
    session.add(key)
    commit_or_conflict(session, "site key id collision; try again")
    session.refresh(key)
    return key


def list_site_keys(*, session: Session, product_id: int) -> list[SiteKey]:
    """The product's site keys, revoked ones included, oldest first."""
    query = select(SiteKey).where(SiteKey.product_id == product_id).order_by(col(SiteKey.id))
    return list(session.exec(query).all())


def get_site_key(*, session: Session, product_id: int, site_key_id: int) -> SiteKey:
    """The product's site key; another product's looks missing (404)."""
    key = session.get(SiteKey, site_key_id)
    if key is None or key.product_id != product_id:
        raise NotFound(f"site key {site_key_id} not found")
    return key


def find_site_key(*, session: Session, public_id: str) -> SiteKey | None:
    """The site key with this public id (active or not), if any."""
    return session.exec(select(SiteKey).where(SiteKey.public_id == public_id)).first()


def update_site_key(*, session: Session, site_key: SiteKey, data: SiteKeyUpdate) -> SiteKey:
    """Change some of the key's settings; theme fields are merged into the current theme."""
    changes = data.model_dump(exclude_unset=True, exclude={"theme"}, mode="json")
    for name, value in changes.items():
        setattr(site_key, name, value)
    if data.theme is not None:
        current = WidgetTheme.model_validate(site_key.theme)
        merged = current.model_copy(update=data.theme.model_dump(exclude_unset=True))
        # a new dict: the JSON column only notices reassignment
        site_key.theme = WidgetTheme.model_validate(merged.model_dump()).model_dump(mode="json")
    session.add(site_key)
    session.commit()
    session.refresh(site_key)
    return site_key


def widget_config(*, session: Session, site_key: SiteKey) -> WidgetConfig:
    """What the widget renders with: the theme with its title filled in, and the language."""
    product = session.get(Product, site_key.product_id)
    product_name = product.name if product else ""
    theme = WidgetTheme.model_validate(site_key.theme)
    theme.title = theme.title or product_name
    return WidgetConfig(
        site_key=site_key.public_id,
        product_name=product_name,
        language=Language(site_key.language),
        theme=theme,
    )


def loopback_origins(port: int) -> list[str]:
    """The origins of a page served by the API itself on ``port`` (the demo page)."""
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def _is_loopback(origin: str) -> bool:
    return origin.startswith(("http://127.0.0.1:", "http://localhost:"))


def find_demo_site_key(*, session: Session, product_id: int) -> SiteKey | None:
    """The newest active key named ``demo`` of the product (the one ``/demo`` embeds)."""
    query = (
        select(SiteKey)
        .where(SiteKey.product_id == product_id, SiteKey.name == DEMO_KEY_NAME)
        .where(SiteKey.is_active == True)  # noqa: E712
        .order_by(col(SiteKey.id).desc())
    )
    return session.exec(query).first()


def ensure_demo_site_key(*, session: Session, product_id: int, port: int) -> SiteKey | None:
    """Create the demo page's key (named ``demo``) once, allowing the API's own loopback origins
    on ``port``; later calls swap its loopback origins for the current port's and keep any other.
    A demo key that an admin revoked stays revoked (returns None)."""
    key = find_demo_site_key(session=session, product_id=product_id)
    if key is None:
        any_demo = session.exec(
            select(SiteKey).where(SiteKey.product_id == product_id, SiteKey.name == DEMO_KEY_NAME)
        ).first()
        if any_demo is not None:
            return None
        data = SiteKeyCreate(name=DEMO_KEY_NAME, allowed_origins=loopback_origins(port))
        return create_site_key(session=session, product_id=product_id, data=data)
    wanted = sorted(
        {o for o in key.allowed_origins if not _is_loopback(o)} | set(loopback_origins(port))
    )
    if wanted != sorted(key.allowed_origins):
        key.allowed_origins = wanted
        session.add(key)
        session.commit()
        session.refresh(key)
    return key


def set_visitor_identity(
    *, session: Session, conversation: Conversation, identity: VisitorIdentity
) -> Conversation:
    """Store the name and email the visitor gave on the conversation (null clears them)."""
    conversation.visitor_name = identity.name
    conversation.visitor_email = identity.email
    # updated_at stays: it orders the agents' inbox by activity, and this is not a message
    session.add(conversation)
    session.commit()
    session.refresh(conversation)
    return conversation


def revoke_site_key(*, session: Session, site_key: SiteKey) -> SiteKey:
    """Deactivate the key: new conversations and every token issued for it stop working at once.
    Revoking twice keeps the first revocation time."""
    if site_key.is_active:
        site_key.is_active = False
        site_key.revoked_at = utcnow()
        session.add(site_key)
        session.commit()
        session.refresh(site_key)
    return site_key


def active_origins(*, session: Session) -> set[str]:
    """Every origin some active site key allows (``*`` included when a key allows all)."""
    rows = session.exec(select(SiteKey.allowed_origins).where(SiteKey.is_active == True)).all()  # noqa: E712
    return {origin for origins in rows for origin in origins}


def list_visitor_conversations(
    *, session: Session, product_id: int, visitor_id: str, limit: int = 20
) -> list[Conversation]:
    """The visitor's own conversations in the product, newest first."""
    query = (
        select(Conversation)
        .where(Conversation.product_id == product_id, Conversation.visitor_id == visitor_id)
        .order_by(col(Conversation.created_at).desc(), col(Conversation.id).desc())
        .limit(limit)
    )
    return list(session.exec(query).all())


def request_handoff(*, session: Session, conversation: Conversation) -> bool:
    """The visitor asks for a person: a bot conversation waits for an agent (a system message and
    a status event); already waiting or with an agent: nothing changes. 409 when closed.

    Returns True when something was written (the caller then publishes on the event bus).
    """
    # Lock the row (PostgreSQL) so that two concurrent requests write one system message.
    session.refresh(conversation, with_for_update=True)
    conversations.require_open(conversation)
    if conversation.status != ConversationStatus.bot:
        session.rollback()  # release the lock
        return False
    conversations.add_message(
        session=session,
        conversation=conversation,
        role=MessageRole.system,
        text=HANDOFF_TEXT,
        status=ConversationStatus.waiting_for_agent,
    )
    session.refresh(conversation)
    return True
