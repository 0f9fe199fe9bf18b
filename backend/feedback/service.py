"""Feedback operations (keyword-only; the only place that commits feedback).

Feedback sits below ``conversations``: it stores ratings by message id and knows messages only
through the two small protocols below; the agent view and the widget attach ratings to messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.core.db import utcnow
from backend.core.errors import InvalidInput
from backend.feedback.models import FeedbackIn, FeedbackSummary, MessageFeedback


class RatedMessage(Protocol):
    """The message being rated (a ``conversations`` Message)."""

    @property
    def id(self) -> int | None: ...

    @property
    def conversation_id(self) -> int: ...

    @property
    def role(self) -> str: ...


class ShownMessage(Protocol):
    """A message as shown, with a place for its rating (``conversations`` MessagePublic)."""

    @property
    def id(self) -> int: ...

    feedback: FeedbackSummary | None


M = TypeVar("M", bound=ShownMessage)


def get_feedback(*, session: Session, message_id: int) -> MessageFeedback | None:
    """The message's feedback, if it has any."""
    query = select(MessageFeedback).where(MessageFeedback.message_id == message_id)
    return session.exec(query).first()


def set_feedback(
    *, session: Session, message: RatedMessage, product_id: int, data: FeedbackIn
) -> MessageFeedback:
    """Rate a bot message (422 for any other); rating it again replaces the rating and comment."""
    if message.role != "bot":  # MessageRole.bot
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
