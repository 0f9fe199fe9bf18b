"""The visitor's rating of an answer: ``POST /api/v1/widget/messages/{message_id}/feedback``.

A widget route (visitor auth and limits) over ``feedback``, which sits below the widget.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from backend.api.deps import SessionDep
from backend.conversations import service as conversations
from backend.core.errors import error_responses
from backend.core.openapi import Id
from backend.feedback import service
from backend.feedback.models import FeedbackIn, FeedbackPublic, MessageFeedback
from backend.widget.auth import VisitorDep
from backend.widget.limits import enforce_feedback_limits

widget_router = APIRouter(prefix="/widget", tags=["widget"])


@widget_router.post(
    "/messages/{message_id}/feedback",
    response_model=FeedbackPublic,
    responses=error_responses(400, 401, 403, 404, 422, 429),
)
def post_feedback(
    message_id: Id, body: FeedbackIn, request: Request, visitor: VisitorDep, session: SessionDep
) -> MessageFeedback:
    """Rate one of the assistant's answers: ``{"rating": "up"|"down", "comment": str|null}``.

    One rating per message: posting again replaces it. Only bot messages of the visitor's own
    conversations: another visitor's (or an unknown) message is 404, a non-bot message 422.
    Limited per visitor (the site key's ``rate_limit_per_minute``; 429 with ``Retry-After``)."""
    enforce_feedback_limits(request, visitor)
    message = conversations.visitor_message(
        session=session,
        message_id=message_id,
        product_id=visitor.product_id,
        visitor_id=visitor.visitor_id,
    )
    return service.set_feedback(
        session=session, message=message, product_id=visitor.product_id, data=body
    )
