"""What agents do with conversations: the inbox, replying, handing back to the bot, closing.

Keyword-only functions; every write goes through :mod:`backend.conversations.service`, which
commits the change and its ``conversation_event`` row together.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, SQLModel, and_, col, func, or_, select

from backend.conversations import service
from backend.conversations.models import (
    Conversation,
    ConversationPublic,
    ConversationStatus,
    Message,
    MessageRole,
    MessageWithTrace,
    traced_message,
)
from backend.core.errors import InvalidInput
from backend.feedback import service as feedback

PREVIEW_CHARS = 200
HANDBACK_TEXT = "An agent handed the conversation back to the assistant."


class CloseOutcome(enum.StrEnum):
    resolved = "resolved"
    unresolved = "unresolved"
    spam = "spam"
    duplicate = "duplicate"


class AgentReply(SQLModel):
    # No max_length here: clean_text turns an over-long text into a 413 with the limit named.
    text: str


class CloseRequest(SQLModel):
    outcome: CloseOutcome


class ConversationSummary(ConversationPublic):
    """One inbox row: the conversation, its size and a preview of its last message."""

    visitor_id: str
    message_count: int
    last_message_preview: str | None
    last_message_role: MessageRole | None
    last_message_at: datetime | None


class ConversationDetail(SQLModel):
    """The conversation and every message with its trace (the agent's view)."""

    conversation: ConversationPublic
    messages: list[MessageWithTrace]


def parse_statuses(values: Sequence[str] | None) -> list[ConversationStatus]:
    """Status filter values (repeated or comma-separated) as statuses; an unknown one is a 422."""
    statuses: list[ConversationStatus] = []
    for value in values or []:
        for part in value.split(","):
            name = part.strip()
            if not name:
                continue
            try:
                statuses.append(ConversationStatus(name))
            except ValueError:
                allowed = ", ".join(s.value for s in ConversationStatus)
                raise InvalidInput(f"invalid status '{name}': use one of {allowed}") from None
    return statuses


def _preview(text: str) -> str:
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def list_conversations(
    *,
    session: Session,
    product_id: int,
    statuses: Sequence[ConversationStatus] = (),
    limit: int = 50,
    before_id: int | None = None,
) -> list[ConversationSummary]:
    """The product's conversations, newest activity first, optionally of some statuses only.

    ``before_id`` is the id of the last conversation of the previous page: the page continues
    after it in the same order (keyset pagination on ``updated_at, id``).
    """
    query = select(Conversation).where(Conversation.product_id == product_id)
    if statuses:
        query = query.where(col(Conversation.status).in_([s.value for s in statuses]))
    if before_id is not None:
        cursor = session.get(Conversation, before_id)
        if cursor is None or cursor.product_id != product_id:
            raise InvalidInput(f"before_id: conversation {before_id} not found in this product")
        query = query.where(
            or_(
                col(Conversation.updated_at) < cursor.updated_at,
                and_(
                    col(Conversation.updated_at) == cursor.updated_at,
                    col(Conversation.id) < before_id,
                ),
            )
        )
    query = query.order_by(col(Conversation.updated_at).desc(), col(Conversation.id).desc())
    conversations = session.exec(query.limit(limit)).all()
    ids = [c.id for c in conversations]
    if not ids:
        return []
    # Two grouped queries for the whole page instead of two per conversation.
    stats = session.exec(
        select(Message.conversation_id, func.count(), func.max(Message.id))
        .where(col(Message.conversation_id).in_(ids))
        .group_by(col(Message.conversation_id))
    ).all()
    counts = {cid: int(n) for cid, n, _ in stats}
    last_ids = [last for _, _, last in stats if last is not None]
    last = {
        m.conversation_id: m
        for m in session.exec(select(Message).where(col(Message.id).in_(last_ids))).all()
    }
    rows = []
    for c in conversations:
        message = last.get(c.id or 0)
        rows.append(
            ConversationSummary(
                **ConversationPublic.model_validate(c).model_dump(),
                visitor_id=c.visitor_id,
                message_count=counts.get(c.id or 0, 0),
                last_message_preview=_preview(message.text) if message else None,
                last_message_role=message.role if message else None,
                last_message_at=message.created_at if message else None,
            )
        )
    return rows


def conversation_detail(*, session: Session, conversation_id: int) -> ConversationDetail:
    """The conversation with all of its messages, oldest first, traces included."""
    conversation = service.get_conversation(session=session, conversation_id=conversation_id)
    messages = session.exec(
        select(Message).where(Message.conversation_id == conversation_id).order_by(col(Message.id))
    ).all()
    return ConversationDetail(
        conversation=ConversationPublic.model_validate(conversation),
        messages=feedback.attach(session=session, messages=[traced_message(m) for m in messages]),
    )


def reply(*, session: Session, conversation: Conversation, agent_id: int, text: str) -> Message:
    """The agent answers: the conversation becomes theirs (status ``agent``) and the bot stops."""
    service.require_open(conversation)
    cleaned = service.clean_text(text)
    conversation.assigned_agent_id = agent_id  # committed with the message
    return service.add_message(
        session=session,
        conversation=conversation,
        role=MessageRole.agent,
        text=cleaned,
        author_id=agent_id,
        status=ConversationStatus.agent,
    )


def hand_back(*, session: Session, conversation: Conversation, agent_id: int) -> Conversation:
    """Give the conversation back to the bot (a system message says so); a no-op if it has it."""
    service.require_open(conversation)
    if conversation.status == ConversationStatus.bot:
        return conversation
    conversation.assigned_agent_id = None  # nobody is assigned while the bot answers
    service.add_message(
        session=session,
        conversation=conversation,
        role=MessageRole.system,
        text=HANDBACK_TEXT,
        author_id=agent_id,
        status=ConversationStatus.bot,
    )
    session.refresh(conversation)
    return conversation


def close(*, session: Session, conversation: Conversation, outcome: CloseOutcome) -> Conversation:
    """Close the conversation with an outcome; closing a closed one is a 409."""
    service.require_open(conversation)
    return service.set_status(
        session=session,
        conversation=conversation,
        status=ConversationStatus.closed,
        outcome=outcome.value,
    )
