"""``POST /v1/chat/completions``: deskpilot as an OpenAI-compatible endpoint.

The same pipeline as the widget answers the last user message; each request is logged as a
conversation of the API key's product (requests with the same ``user`` share one). Outside
``/api/v1`` on purpose: that path is what OpenAI clients expect.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from backend.answers import service as answers
from backend.answers.models import AssistantSettingsBase
from backend.answers.pipeline import Event
from backend.answers.routes import answer_events
from backend.answers.sse import SSEResponse
from backend.api.deps import SessionDep
from backend.conversations import service as conversations
from backend.conversations.models import Channel, Conversation, ConversationStatus
from backend.openai_api import schemas
from backend.openai_api.auth import ApiKeyDep
from backend.openai_api.models import ApiKey
from ml.generation.prompt import estimate_tokens

router = APIRouter(tags=["openai-compatible"])


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


def _deskpilot(conversation: Conversation, meta: dict[str, Any] | None) -> dict[str, Any]:
    meta = meta or {}
    return {
        "conversation_id": conversation.id,
        "route": meta.get("route"),
        "intent": meta.get("intent"),
        "confidence": meta.get("confidence"),
    }


def _usage(trace: dict[str, Any], question: str, text: str) -> dict[str, int]:
    gen = trace.get("generator") or {}
    prompt = gen.get("prompt_tokens") or estimate_tokens(question)
    completion = gen.get("completion_tokens") or estimate_tokens(text)
    return {
        "prompt_tokens": int(prompt),
        "completion_tokens": int(completion),
        "total_tokens": int(prompt) + int(completion),
    }


def _data(body: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(body, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


async def _stream(
    events: AsyncGenerator[Event, None], conversation: Conversation, model: str
) -> AsyncIterator[bytes]:
    """The turn as ``chat.completion.chunk`` events, ending with ``data: [DONE]``."""
    cid = schemas.completion_id()
    extra: dict[str, Any] = _deskpilot(conversation, None)
    try:
        async for kind, data in events:
            if kind == "meta":
                extra = _deskpilot(conversation, data)
                delta = {"role": "assistant", "content": ""}
                yield _data(schemas.chunk(cid=cid, model=model, delta=delta, deskpilot=extra))
            elif kind == "token":
                delta = {"content": data["text"]}
                yield _data(schemas.chunk(cid=cid, model=model, delta=delta))
            elif kind in ("error", "replace"):
                note = {**extra, kind: data}
                yield _data(schemas.chunk(cid=cid, model=model, delta={}, deskpilot=note))
            elif kind == "sources":
                extra = {**extra, "sources": data["sources"]}
            elif kind == "done":
                extra = {**extra, "message_id": data["message_id"]}
                final = schemas.chunk(
                    cid=cid, model=model, delta={}, finish_reason="stop", deskpilot=extra
                )
                yield _data(final)
        yield b"data: [DONE]\n\n"
    finally:
        with anyio.CancelScope(shield=True):
            await events.aclose()


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    body: schemas.ChatCompletionRequest, request: Request, session: SessionDep, api_key: ApiKeyDep
) -> SSEResponse | JSONResponse:
    """Answer the last user message with the product's knowledge (OpenAI chat-completions
    format, streamed with ``"stream": true``). Authenticate with ``Authorization: Bearer <API
    key>``. The response's extra ``deskpilot`` field (in the last chunk when streamed) holds the
    route, intent, confidence, sources and the logged conversation and message ids."""
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
        return SSEResponse(_stream(events, conversation, body.model))
    meta: dict[str, Any] | None = None
    text, extra = "", dict[str, Any]()
    trace: dict[str, Any] = {}
    async for kind, data in events:
        if kind == "meta":
            meta = data
        elif kind == "token":
            text += data["text"]
        elif kind == "replace":
            text = data["text"]
        elif kind == "error":
            text, extra = "", {**extra, "error": data}
        elif kind == "sources":
            extra["sources"] = data["sources"]
        elif kind == "done":
            extra["message_id"] = data["message_id"]
    message_id = extra.get("message_id")
    if message_id is not None:
        from backend.conversations.models import Message

        stored = session.get(Message, message_id)
        trace = stored.trace if stored else {}
    payload = schemas.completion(
        cid=schemas.completion_id(),
        model=body.model,
        text=text,
        usage=_usage(trace, body.question(), text),
        deskpilot={**_deskpilot(conversation, meta), **extra},
    )
    return JSONResponse(payload)
