"""``POST /v1/chat/completions``: deskpilot as an OpenAI-compatible endpoint.

The same pipeline as the widget answers the last user message; each request is logged as a
conversation of the API key's product (requests with the same ``user`` share one). Outside
``/api/v1`` on purpose: that path is what OpenAI clients expect.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from contextlib import aclosing
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from backend.answers import service as answers
from backend.answers.models import AssistantSettingsBase
from backend.answers.sse import SSEResponse
from backend.answers.turn import answer_events
from backend.api.deps import SessionDep
from backend.conversations import service as conversations
from backend.conversations.models import Channel, Conversation, ConversationStatus, Message
from backend.openai_api import schemas, wire
from backend.openai_api.auth import ApiKeyDep
from backend.openai_api.errors import RESPONSES, OpenAIRoute
from backend.openai_api.models import ApiKey
from ml.generation.prompt import estimate_tokens

router = APIRouter(tags=["openai-compatible"], route_class=OpenAIRoute)


def conversation_for(*, session: Session, api_key: ApiKey, user: str | None) -> Conversation:
    """The open conversation of this key's ``user``, or a new one (one per request without)."""
    if user:
        digest = hashlib.sha256(user.encode()).hexdigest()[:40]
        visitor_id = f"api:{api_key.id}:{digest}"
        found = session.exec(
            select(Conversation)
            .where(Conversation.product_id == api_key.product_id)
            .where(Conversation.visitor_id == visitor_id)
            .where(Conversation.status != ConversationStatus.closed)
            .order_by(col(Conversation.id).desc())
        ).first()
        if found is not None:
            return found
    else:
        visitor_id = f"api:{api_key.id}:{uuid.uuid4().hex}"
    return conversations.create_conversation(
        session=session, product_id=api_key.product_id, visitor_id=visitor_id, channel=Channel.api
    )


def _usage(trace: dict[str, Any], question: str, text: str) -> dict[str, int]:
    gen = trace.get("generator") or {}
    prompt = gen.get("prompt_tokens") or estimate_tokens(question)
    completion = gen.get("completion_tokens") or estimate_tokens(text)
    return {
        "prompt_tokens": int(prompt),
        "completion_tokens": int(completion),
        "total_tokens": int(prompt) + int(completion),
    }


@router.post(
    "/v1/chat/completions",
    response_model=None,
    responses={
        200: {
            "description": "A `chat.completion`, or `chat.completion.chunk` events when streamed",
            "content": {"application/json": {}, "text/event-stream": {}},
        },
        **RESPONSES,
    },
)
async def chat_completions(
    body: schemas.ChatCompletionRequest, request: Request, session: SessionDep, api_key: ApiKeyDep
) -> SSEResponse | JSONResponse:
    """Answer the last user message with the product's knowledge (OpenAI chat-completions
    format, streamed with ``"stream": true``). Authenticate with ``Authorization: Bearer <API
    key>``. The response's extra ``deskpilot`` field (in the last chunk when streamed) holds the
    route, intent, confidence, sources and the logged conversation and message ids. Errors are
    OpenAI's ``{"error": {"message", "type", "param", "code"}}``; when generation fails after
    text was streamed, the stream ends with such an ``error`` object (the SDKs raise it), and
    before that the fallback answer is the completion."""
    t0 = time.perf_counter()
    conversation = await run_in_threadpool(
        conversation_for, session=session, api_key=api_key, user=body.user
    )
    prepared = await run_in_threadpool(
        answers.prepare_turn, session=session, conversation=conversation, text=body.question()
    )
    config = AssistantSettingsBase.model_validate(prepared.config.model_dump())
    if body.token_limit():
        config.max_answer_tokens = min(config.max_answer_tokens, body.token_limit() or 0)
    prepared = replace(prepared, history=body.history(), config=config)
    persist_ms = (time.perf_counter() - t0) * 1000
    events = answer_events(request, session, conversation, prepared, persist_ms)
    if body.stream:
        chunks = wire.stream_chunks(events, conversation_id=conversation.id, model=body.model)
        return SSEResponse(chunks)
    async with aclosing(events):  # stored at once, also when gathering fails
        completion = await wire.collect(events)
    trace: dict[str, Any] = {}
    if completion.message_id is not None:
        stored = session.get(Message, completion.message_id)
        trace = stored.trace if stored else {}
    usage = _usage(trace, body.question(), completion.text)
    return JSONResponse(
        completion.body(conversation_id=conversation.id, model=body.model, usage=usage)
    )
