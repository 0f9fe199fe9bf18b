"""Conversation operations (keyword-only; the only place that commits conversation changes).

Each change a visitor must see live is written in the same transaction as a
``conversation_event`` row; callers then call ``publish`` on the event bus with the conversation
id, which only wakes the streams (the data is always read back from the database).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from backend.conversations.models import (
    MAX_MESSAGE_CHARS,
    Channel,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Message,
    MessageRole,
    public_message,
)
from backend.core.db import utcnow
from backend.core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge


def clean_text(text: str, *, limit: int = MAX_MESSAGE_CHARS) -> str:
    """A message text as stored: stripped; refused when empty (422) or too long (413)."""
    cleaned = text.strip()
    if not cleaned:
        raise InvalidInput("message text is empty")
    if len(cleaned) > limit:
        raise PayloadTooLarge(
            f"message is {len(cleaned)} characters; the limit is {limit}", code="message_too_long"
        )
    return cleaned


def create_conversation(
    *,
    session: Session,
    product_id: int,
    visitor_id: str,
    channel: Channel = Channel.widget,
    site_key_id: int | None = None,
) -> Conversation:
    """Start a conversation handled by the bot."""
    conversation = Conversation(
        product_id=product_id, visitor_id=visitor_id, channel=channel, site_key_id=site_key_id
    )
    session.add(conversation)
    session.commit()
    session.refresh(conversation)
    return conversation


def get_conversation(*, session: Session, conversation_id: int) -> Conversation:
    """The conversation, or NotFound."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    return conversation


def product_of_conversation(*, session: Session, conversation_id: int) -> int:
    """The product a conversation belongs to (the product-access check of
    ``/conversations/{conversation_id}`` routes); NotFound for a missing one."""
    return get_conversation(session=session, conversation_id=conversation_id).product_id


def visitor_message(
    *, session: Session, message_id: int, product_id: int, visitor_id: str
) -> Message:
    """A message of one of the visitor's conversations; anyone else's looks missing (404)."""
    message = session.get(Message, message_id)
    conversation = session.get(Conversation, message.conversation_id) if message else None
    if (
        message is None
        or conversation is None
        or conversation.product_id != product_id
        or conversation.visitor_id != visitor_id
    ):
        raise NotFound(f"message {message_id} not found")
    return message


def get_visitor_conversation(
    *, session: Session, conversation_id: int, product_id: int, visitor_id: str
) -> Conversation:
    """The visitor's own conversation; another visitor's looks exactly like a missing one (404)."""
    conversation = session.get(Conversation, conversation_id)
    if (
        conversation is None
        or conversation.product_id != product_id
        or conversation.visitor_id != visitor_id
    ):
        raise NotFound(f"conversation {conversation_id} not found")
    return conversation


def require_open(conversation: Conversation) -> None:
    """Refuse to add to a closed conversation (409)."""
    if conversation.status == ConversationStatus.closed:
        raise Conflict(
            f"conversation {conversation.id} is closed; start a new one",
            code="conversation_closed",
        )


def _event(conversation_id: int, kind: str, payload: dict[str, Any]) -> ConversationEvent:
    return ConversationEvent(conversation_id=conversation_id, kind=kind, payload=payload)


def add_message(
    *,
    session: Session,
    conversation: Conversation,
    role: MessageRole,
    text: str,
    trace: dict[str, Any] | None = None,
    author_id: int | None = None,
    status: ConversationStatus | None = None,
) -> Message:
    """Store a message (and its event), optionally changing the status in the same commit."""
    conversation_id = conversation.id or 0
    message = Message(
        conversation_id=conversation_id,
        role=role,
        text=text,
        trace=trace or {},
        author_id=author_id,
    )
    now = utcnow()
    session.add(message)
    session.flush()
    session.add(_event(conversation_id, "message", public_message(message).model_dump(mode="json")))
    if status is not None and status != conversation.status:
        _set_status(session, conversation, status, now)
    conversation.updated_at = now
    session.add(conversation)
    session.commit()
    session.refresh(message)
    return message


def _set_status(
    session: Session,
    conversation: Conversation,
    status: ConversationStatus,
    now: datetime,
    outcome: str | None = None,
) -> None:
    # Read back from the database the column is a plain string; the enum normalises both.
    previous = ConversationStatus(conversation.status)
    conversation.status = status
    conversation.updated_at = now
    if status == ConversationStatus.closed:
        conversation.closed_at = now
        conversation.outcome = outcome
    session.add(
        _event(
            conversation.id or 0,
            "status",
            {"status": status.value, "previous": previous.value, "outcome": outcome},
        )
    )


def set_status(
    *,
    session: Session,
    conversation: Conversation,
    status: ConversationStatus,
    outcome: str | None = None,
    agent_id: int | None = None,
) -> Conversation:
    """Change who handles the conversation (writes a status event); a no-op when unchanged."""
    if status == conversation.status and outcome is None:
        return conversation
    if agent_id is not None:
        conversation.assigned_agent_id = agent_id
    _set_status(session, conversation, status, utcnow(), outcome)
    session.add(conversation)
    session.commit()
    session.refresh(conversation)
    return conversation


def list_messages(
    *, session: Session, conversation_id: int, limit: int = 200, before_id: int | None = None
) -> list[Message]:
    """The conversation's messages, oldest first (the newest ``limit`` before ``before_id``)."""
    query = select(Message).where(Message.conversation_id == conversation_id)
    if before_id is not None:
        query = query.where(col(Message.id) < before_id)
    rows = session.exec(query.order_by(col(Message.id).desc()).limit(limit)).all()
    return list(reversed(rows))


def events_after(
    *, session: Session, conversation_id: int, after_id: int, limit: int = 500
) -> Sequence[ConversationEvent]:
    """The conversation's events newer than ``after_id``, oldest first (SSE replay)."""
    return session.exec(
        select(ConversationEvent)
        .where(ConversationEvent.conversation_id == conversation_id)
        .where(col(ConversationEvent.id) > after_id)
        .order_by(col(ConversationEvent.id))
        .limit(limit)
    ).all()
