"""Conversation, message and event tables and schemas.

A conversation belongs to one product and one visitor (widget) or API caller. Its ``status`` says
who answers: the bot (``bot``), nobody yet (``waiting_for_agent``), a person (``agent``), or no one
(``closed``). Every bot message carries the full trace of how it was made. Every change a visitor
must see live (a new message, a status change) is also written as a ``conversation_event`` row: the
row id is the SSE event id, so a reconnecting client replays exactly what it missed.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, String, Text
from sqlmodel import Field, SQLModel

from backend.core.db import utcnow
from backend.feedback.models import FeedbackSummary

MAX_MESSAGE_CHARS = 4000  # a visitor message longer than this is refused (413)


class ConversationStatus(enum.StrEnum):
    bot = "bot"
    waiting_for_agent = "waiting_for_agent"
    agent = "agent"
    closed = "closed"


class MessageRole(enum.StrEnum):
    visitor = "visitor"
    bot = "bot"
    agent = "agent"
    system = "system"


class Channel(enum.StrEnum):
    widget = "widget"
    api = "api"  # the OpenAI-compatible endpoint


class Conversation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True, ondelete="CASCADE")
    site_key_id: int | None = Field(
        default=None, foreign_key="site_key.id", index=True, ondelete="SET NULL"
    )
    channel: Channel = Field(default=Channel.widget, sa_type=String(16))
    visitor_id: str = Field(max_length=64, index=True)
    status: ConversationStatus = Field(
        default=ConversationStatus.bot, sa_type=String(32), index=True
    )
    outcome: str | None = Field(default=None, max_length=32)
    assigned_agent_id: int | None = Field(
        default=None, foreign_key="user.id", index=True, ondelete="SET NULL"
    )
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None
    # what the visitor told the widget (``deskpilot.identify``); shown to agents
    visitor_name: str | None = Field(default=None, max_length=200)
    visitor_email: str | None = Field(default=None, max_length=320)


class Message(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True, ondelete="CASCADE")
    role: MessageRole = Field(sa_type=String(16))
    text: str = Field(sa_column=Column(Text, nullable=False))
    # route, intent, retrieval, citations, versions, latency per stage, token counts, errors
    trace: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    author_id: int | None = Field(
        default=None, foreign_key="user.id", index=True, ondelete="SET NULL"
    )
    created_at: datetime = Field(default_factory=utcnow)


class ConversationEvent(SQLModel, table=True):
    __tablename__ = "conversation_event"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=32)  # message | status
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class ConversationPublic(SQLModel):
    id: int
    product_id: int
    channel: Channel
    status: ConversationStatus
    outcome: str | None
    assigned_agent_id: int | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    visitor_name: str | None = None
    visitor_email: str | None = None


class MessagePublic(SQLModel):
    """What a visitor sees of a message (no trace)."""

    id: int
    conversation_id: int
    role: MessageRole
    text: str
    sources: list[dict[str, Any]] = []
    created_at: datetime
    feedback: FeedbackSummary | None = None  # the visitor's rating of a bot message


class MessageWithTrace(MessagePublic):
    """What an agent sees: the message and how it was made."""

    trace: dict[str, Any]
    author_id: int | None


def public_message(message: Message) -> MessagePublic:
    """The visitor's view of a message: its text and the sources it showed."""
    return MessagePublic(
        id=message.id or 0,
        conversation_id=message.conversation_id,
        role=message.role,
        text=message.text,
        sources=list(message.trace.get("sources", [])),
        created_at=message.created_at,
    )


def traced_message(message: Message) -> MessageWithTrace:
    """The agent's view of a message, trace included."""
    base = public_message(message)
    return MessageWithTrace(**base.model_dump(), trace=message.trace, author_id=message.author_id)
