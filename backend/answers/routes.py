"""The visitor's message route (streamed answer) and the admin's answer settings."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlmodel import Field, Session, SQLModel
from starlette.concurrency import run_in_threadpool

from backend.answers import service
from backend.answers.models import (
    AssistantSettingsBase,
    AssistantSettingsPublic,
    AssistantSettingsUpdate,
)
from backend.answers.pipeline import AnswerPipeline, Event, TurnRequest
from backend.answers.sse import SSEResponse, as_sse
from backend.api.deps import AdminAccess, SessionDep
from backend.conversations import service as conversations
from backend.conversations.models import Conversation, Message, public_message
from backend.core.errors import PayloadTooLarge
from backend.widget.auth import VisitorDep
from backend.widget.limits import enforce_message_limits

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024  # far above the message limit: a bigger body is refused unread

widget_router = APIRouter(prefix="/widget", tags=["widget"])
admin_router = APIRouter(tags=["answers"])


class MessageIn(SQLModel):
    text: str = Field(description="The visitor's message (at most 4000 characters).")


def publish(request: Request, conversation_id: int) -> None:
    """Wake the conversation's live event streams (agents, other tabs)."""
    bus = getattr(request.app.state, "events", None)
    if bus is not None:
        bus.publish(conversation_id)


def build_pipeline(request: Request, config: AssistantSettingsBase) -> AnswerPipeline:
    """A pipeline on this process's runtimes (intent models, indexes, generator)."""
    state = request.app.state
    return AnswerPipeline(
        predict=state.intents.predict, knowledge=state.knowledge, llm=state.llm, config=config
    )


async def answer_events(
    request: Request,
    session: Session,
    conversation: Conversation,
    prepared: service.PreparedTurn,
    persist_ms: float,
) -> AsyncGenerator[Event, None]:
    """The turn's events; the bot message is persisted even if the client goes away."""
    pipeline = build_pipeline(request, prepared.config)
    turn = TurnRequest(
        product_id=conversation.product_id,
        product_name=prepared.product_name,
        status=conversation.status,
        text=prepared.message.text,
        history=prepared.history,
        persist_ms=persist_ms,
    )
    persisted = False
    try:
        async for kind, data in pipeline.run(turn):
            yield kind, data
        message = await run_in_threadpool(
            service.persist_turn, session=session, conversation=conversation, result=pipeline.result
        )
        persisted = True
        publish(request, conversation.id or 0)
        yield "done", {"message_id": message.id if message else None}
    finally:
        if not persisted:  # the client went away (or something broke): keep what was produced
            pipeline.result.trace["client_disconnected"] = True
            try:
                service.persist_turn(
                    session=session, conversation=conversation, result=pipeline.result
                )
                publish(request, conversation.id or 0)
            except Exception:  # never mask the original error
                log.exception("could not persist an interrupted turn")


@widget_router.post("/conversations/{conversation_id}/messages", response_model=None)
async def post_message(
    conversation_id: int,
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
        return SSEResponse(as_sse(events))
    return JSONResponse(await collect_json(events, session))


async def collect_json(events: AsyncIterator[Event], session: Session) -> dict[str, Any]:
    """The non-streaming variant: the same turn, gathered into one document."""
    out: dict[str, Any] = {"meta": None, "sources": [], "error": None, "message": None}
    async for name, payload in events:
        if name in ("meta", "error"):
            out[name] = payload
        elif name == "sources":
            out["sources"] = payload["sources"]
        elif name == "done" and payload["message_id"] is not None:
            message = session.get(Message, payload["message_id"])
            out["message"] = public_message(message).model_dump(mode="json") if message else None
    return out


@admin_router.get("/products/{product_id}/assistant", response_model=AssistantSettingsPublic)
def get_assistant(product_id: int, access: AdminAccess, session: SessionDep) -> Any:
    """The product's answer settings: policy thresholds, fixed replies, persona, token limits."""
    return service.get_assistant_settings(session=session, product_id=product_id)


@admin_router.put("/products/{product_id}/assistant", response_model=AssistantSettingsPublic)
def put_assistant(
    product_id: int, data: AssistantSettingsUpdate, access: AdminAccess, session: SessionDep
) -> Any:
    """Change some answer settings (thresholds between 0 and 1; replies may use ``{product}``
    and, for the fallback, ``{topics}``)."""
    return service.update_assistant_settings(session=session, product_id=product_id, data=data)
