"""Answer-side operations: the product's answer settings, and preparing and persisting a turn
(keyword-only; the only place that commits these changes)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from backend.answers.models import AssistantSettings, AssistantSettingsBase, AssistantSettingsUpdate
from backend.answers.pipeline import TurnResult
from backend.conversations import service as conversations
from backend.conversations.models import Conversation, Message, MessageRole
from backend.core.db import utcnow
from backend.products.service import get_product
from ml.interfaces import ChatMessage

HISTORY_MESSAGES = 12  # the prompt builder keeps what fits its token budget, newest first
_ROLE = {MessageRole.visitor: "user", MessageRole.bot: "assistant", MessageRole.agent: "assistant"}


def get_assistant_settings(*, session: Session, product_id: int) -> AssistantSettings:
    """The product's answer settings (the defaults when it never changed them; not stored)."""
    row = session.get(AssistantSettings, product_id)
    return row if row is not None else AssistantSettings(product_id=product_id)


def update_assistant_settings(
    *, session: Session, product_id: int, data: AssistantSettingsUpdate
) -> AssistantSettings:
    """Change some answer settings; the others keep their values."""
    get_product(session=session, product_id=product_id)
    row = session.get(AssistantSettings, product_id) or AssistantSettings(product_id=product_id)
    for name, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(row, name, value)
    row.updated_at = utcnow()
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


@dataclass(frozen=True)
class PreparedTurn:
    """A committed visitor message and what the pipeline needs to answer it."""

    conversation: Conversation
    message: Message
    product_name: str
    history: list[ChatMessage]
    config: AssistantSettingsBase


def history_for(messages: list[Message], *, before_id: int) -> list[ChatMessage]:
    """Earlier visitor, bot and agent messages as chat turns, oldest first."""
    return [
        ChatMessage(role=_ROLE[m.role], content=m.text)
        for m in messages
        if m.role in _ROLE and (m.id or 0) < before_id
    ]


def prepare_turn(*, session: Session, conversation: Conversation, text: str) -> PreparedTurn:
    """Commit the visitor's message (before any model runs) and gather the turn's context."""
    conversations.require_open(conversation)
    cleaned = conversations.clean_text(text)
    earlier = conversations.list_messages(
        session=session, conversation_id=conversation.id or 0, limit=HISTORY_MESSAGES
    )
    message = conversations.add_message(
        session=session, conversation=conversation, role=MessageRole.visitor, text=cleaned
    )
    product = get_product(session=session, product_id=conversation.product_id)
    return PreparedTurn(
        conversation=conversation,
        message=message,
        product_name=product.name,
        history=history_for(list(earlier), before_id=message.id or 0),
        config=get_assistant_settings(session=session, product_id=conversation.product_id),
    )


def persist_turn(
    *, session: Session, conversation: Conversation, result: TurnResult
) -> Message | None:
    """Store the bot's message with its trace (and the status change a handoff makes); nothing
    when the bot stayed silent."""
    if result.silent:
        return None
    session.refresh(conversation)
    return conversations.add_message(
        session=session,
        conversation=conversation,
        role=MessageRole.bot,
        text=result.text,
        trace={**result.trace, "route": result.route},
        status=result.new_status,
    )
