"""Agent routes under /api/v1/agent: the inbox, a conversation with traces, reply, hand back, close.

Every route passes :func:`require_product_member` (agent or admin of the conversation's product;
owners pass everywhere); the product comes from ``product_id`` or from ``conversation_id``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from backend.api.deps import MemberAccess, SessionDep, require_product_member
from backend.conversations import agent_service, service
from backend.conversations.agent_service import (
    AgentReply,
    CloseRequest,
    ConversationDetail,
    ConversationSummary,
)
from backend.conversations.models import (
    Conversation,
    ConversationPublic,
    MessageWithTrace,
    traced_message,
)
from backend.core.errors import error_responses
from backend.core.openapi import MAX_ID, Id, ProductId

router = APIRouter(
    prefix="/agent",
    tags=["agent"],
    dependencies=[Depends(require_product_member)],
    responses=error_responses(400, 401, 403, 404, 422),
)


def _publish(request: Request, conversation_id: int) -> None:
    # The bus only wakes the live streams; the data itself is already committed.
    bus = getattr(request.app.state, "events", None)
    if bus:
        bus.publish(conversation_id)


@router.get("/products/{product_id}/conversations", response_model=list[ConversationSummary])
def list_conversations(
    product_id: ProductId,
    access: MemberAccess,
    session: SessionDep,
    status: list[str] | None = Query(
        None, description="Only these statuses (repeat it): bot, waiting_for_agent, agent, closed."
    ),
    limit: int = Query(50, ge=1, le=200),
    before_id: int | None = Query(
        None, ge=1, le=MAX_ID, description="The last conversation id of the previous page."
    ),
) -> list[ConversationSummary]:
    """The product's conversations, newest activity first, with a preview of the last message."""
    return agent_service.list_conversations(
        session=session,
        product_id=access.product.id or 0,
        statuses=agent_service.parse_statuses(status),
        limit=limit,
        before_id=before_id,
    )


@router.get("/conversations/{conversation_id}", response_model=ConversationDetail)
def get_conversation(
    conversation_id: Id, access: MemberAccess, session: SessionDep
) -> ConversationDetail:
    """The conversation and every message, each with the trace of how it was made."""
    return agent_service.conversation_detail(session=session, conversation_id=conversation_id)


@router.post(
    "/conversations/{conversation_id}/messages",
    response_model=MessageWithTrace,
    status_code=201,
    responses=error_responses(409, 413),
)
def post_message(
    conversation_id: Id,
    body: AgentReply,
    request: Request,
    access: MemberAccess,
    session: SessionDep,
) -> MessageWithTrace:
    """Reply as the agent: the conversation is assigned to you and the bot stays silent.

    409 on a closed conversation; 422 for an empty text; 413 over the message size limit."""
    conversation = service.get_conversation(session=session, conversation_id=conversation_id)
    message = agent_service.reply(
        session=session,
        conversation=conversation,
        agent_id=access.user.id or 0,
        text=body.text,
    )
    _publish(request, conversation_id)
    return traced_message(message)


@router.post(
    "/conversations/{conversation_id}/handback",
    response_model=ConversationPublic,
    responses=error_responses(409),
)
def hand_back(
    conversation_id: Id, request: Request, access: MemberAccess, session: SessionDep
) -> Conversation:
    """Give the conversation back to the assistant (a system message tells the visitor); 409 if
    closed."""
    conversation = service.get_conversation(session=session, conversation_id=conversation_id)
    before = conversation.status
    conversation = agent_service.hand_back(
        session=session, conversation=conversation, agent_id=access.user.id or 0
    )
    if conversation.status != before:
        _publish(request, conversation_id)
    return conversation


@router.post(
    "/conversations/{conversation_id}/close",
    response_model=ConversationPublic,
    responses=error_responses(409),
)
def close_conversation(
    conversation_id: Id,
    body: CloseRequest,
    request: Request,
    access: MemberAccess,
    session: SessionDep,
) -> Conversation:
    """Close the conversation with an outcome: resolved, unresolved, spam or duplicate.

    409 if it is already closed."""
    conversation = service.get_conversation(session=session, conversation_id=conversation_id)
    conversation = agent_service.close(
        session=session, conversation=conversation, outcome=body.outcome
    )
    _publish(request, conversation_id)
    return conversation
