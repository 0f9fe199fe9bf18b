"""Feedback operations (keyword-only; the only place that commits feedback)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.conversations.models import Conversation, Message, MessagePublic, MessageRole
from backend.core.db import utcnow
from backend.core.errors import InvalidInput, NotFound
from backend.feedback.models import FeedbackIn, FeedbackSummary, MessageFeedback

M = TypeVar("M", bound=MessagePublic)


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


def get_feedback(*, session: Session, message_id: int) -> MessageFeedback | None:
    """The message's feedback, if it has any."""
    query = select(MessageFeedback).where(MessageFeedback.message_id == message_id)
    return session.exec(query).first()


def set_feedback(
    *, session: Session, message: Message, product_id: int, data: FeedbackIn
) -> MessageFeedback:
    """Rate a bot message (422 for any other); rating it again replaces the rating and comment."""
    if message.role != MessageRole.bot:
        raise InvalidInput(
            f"message {message.id} is a {message.role} message; only the assistant's answers "
            "can be rated",
            code="not_a_bot_message",
        )
    message_id = message.id or 0
    for attempt in range(2):
        row = get_feedback(session=session, message_id=message_id)
        if row is None:
            row = MessageFeedback(
                message_id=message_id,
                conversation_id=message.conversation_id,
                product_id=product_id,
                rating=data.rating,
                comment=data.comment,
            )
        else:
            row.rating, row.comment, row.updated_at = data.rating, data.comment, utcnow()
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            # Two first ratings of one message at once: the other won; update theirs.
            session.rollback()
            if attempt:
                raise
            continue
        session.refresh(row)
        return row
    raise AssertionError("unreachable")  # pragma: no cover


def summaries(*, session: Session, message_ids: Sequence[int]) -> dict[int, FeedbackSummary]:
    """The feedback of these messages, by message id (one query)."""
    if not message_ids:
        return {}
    rows = session.exec(
        select(MessageFeedback).where(col(MessageFeedback.message_id).in_(list(message_ids)))
    ).all()
    return {r.message_id: FeedbackSummary(rating=r.rating, comment=r.comment) for r in rows}


def attach(*, session: Session, messages: list[M]) -> list[M]:
    """Fill in each message's ``feedback`` (None when unrated); returns the same list."""
    found = summaries(session=session, message_ids=[m.id for m in messages])
    for message in messages:
        message.feedback = found.get(message.id)
    return messages
