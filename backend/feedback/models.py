"""Message feedback: a visitor's thumbs up or down (and optional comment) on one bot message.

One row per message (changing the rating updates it). The row points at the message, whose trace
says how the answer was made: intent, retrieved passages, model and prompt versions.
"""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import field_validator
from sqlalchemy import Column, String, Text
from sqlmodel import Field, SQLModel

from backend.core.db import utcnow

MAX_COMMENT_CHARS = 2000


class Rating(enum.StrEnum):
    up = "up"
    down = "down"


class FeedbackIn(SQLModel):
    """Body of ``POST /api/v1/widget/messages/{id}/feedback``."""

    rating: Rating
    comment: str | None = Field(
        default=None,
        description=f"Optional; stripped, at most {MAX_COMMENT_CHARS} characters, blank = none.",
    )

    @field_validator("comment")
    @classmethod
    def _comment(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip()
        if len(v) > MAX_COMMENT_CHARS:
            raise ValueError(f"comment is {len(v)} characters; at most {MAX_COMMENT_CHARS}")
        return v


class FeedbackSummary(SQLModel):
    """The rating shown with a message (visitor history, agent view)."""

    rating: Rating
    comment: str | None


class MessageFeedback(SQLModel, table=True):
    __tablename__ = "message_feedback"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", unique=True, ondelete="CASCADE")
    conversation_id: int = Field(foreign_key="conversation.id", index=True, ondelete="CASCADE")
    product_id: int = Field(foreign_key="product.id", index=True, ondelete="CASCADE")
    rating: Rating = Field(sa_type=String(8))
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)


class FeedbackPublic(SQLModel):
    """A stored rating."""

    id: int
    message_id: int
    conversation_id: int
    product_id: int
    rating: Rating
    comment: str | None
    created_at: datetime
    updated_at: datetime
