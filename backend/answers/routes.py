"""The visitor's message route (streamed answer) and the admin's answer settings."""

from __future__ import annotations

import time
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlmodel import Field, SQLModel
from starlette.concurrency import run_in_threadpool

from backend.answers import service, widget_wire
from backend.answers.models import (
    AssistantSettingsPublic,
    AssistantSettingsUpdate,
)
from backend.answers.sse import SSEResponse
from backend.answers.turn import answer_events, publish
from backend.api.deps import AdminAccess, SessionDep
from backend.conversations import service as conversations
from backend.conversations.models import Message, public_message
from backend.core.errors import PayloadTooLarge, error_responses
from backend.core.openapi import Id, ProductId, stream_response
from backend.widget.auth import VisitorDep
from backend.widget.limits import enforce_message_limits

MAX_BODY_BYTES = 64 * 1024  # far above the message limit: a bigger body is refused unread

widget_router = APIRouter(prefix="/widget", tags=["widget"])
admin_router = APIRouter(tags=["answers"], responses=error_responses(400, 401, 403, 404, 422))


class MessageIn(SQLModel):
    text: str = Field(description="The visitor's message (at most 4000 characters).")


@widget_router.post(
    "/conversations/{conversation_id}/messages",
    response_model=None,
    responses={
        **stream_response("The answer's events, or one document (?stream=false)", json_too=True),
        **error_responses(400, 401, 403, 404, 409, 413, 422, 429),
    },
)
async def post_message(
    conversation_id: Id,
    body: MessageIn,
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    stream: bool = Query(True, description="false: one JSON response instead of SSE"),
) -> SSEResponse | JSONResponse:
    """Send a visitor message and get the answer as Server-Sent Events: ``meta`` (intent,
    confidence, route), ``token``…, ``sources``, ``error`` (only on failure), ``done`` (message
    id). The visitor's message is committed before any model runs. ``?stream=false`` returns
    ``{"message", "meta", "sources", "error"}`` as one JSON document instead."""
    await run_in_threadpool(enforce_message_limits, request, visitor)  # 429 + Retry-After
    if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body over {MAX_BODY_BYTES // 1024} KB")
    t0 = time.perf_counter()
    conversation = conversations.get_visitor_conversation(
        session=session,
        conversation_id=conversation_id,
        product_id=visitor.product_id,
        visitor_id=visitor.visitor_id,
    )
    prepared = await run_in_threadpool(
        service.prepare_turn, session=session, conversation=conversation, text=body.text
    )
    publish(request, conversation_id)
    persist_ms = (time.perf_counter() - t0) * 1000
    events = answer_events(request, session, conversation, prepared, persist_ms)
    if stream:
        return SSEResponse(widget_wire.as_sse(events))
    async with aclosing(events):  # stored at once, also when gathering fails
        collected = await widget_wire.collect(events)
    message = session.get(Message, collected.message_id) if collected.message_id else None
    stored = public_message(message).model_dump(mode="json") if message else None
    return JSONResponse(collected.document(stored))


@admin_router.get("/products/{product_id}/assistant", response_model=AssistantSettingsPublic)
def get_assistant(product_id: ProductId, access: AdminAccess, session: SessionDep) -> Any:
    """The product's answer settings: policy thresholds, fixed replies, persona, token limits."""
    return service.get_assistant_settings(session=session, product_id=product_id)


@admin_router.put("/products/{product_id}/assistant", response_model=AssistantSettingsPublic)
def put_assistant(
    product_id: ProductId, data: AssistantSettingsUpdate, access: AdminAccess, session: SessionDep
) -> Any:
    """Change some answer settings (thresholds between 0 and 1; replies may use ``{product}``
    and, for the fallback, ``{topics}``)."""
    return service.update_assistant_settings(session=session, product_id=product_id, data=data)
