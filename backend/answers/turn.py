"""One turn as the routes run it: the pipeline's events, then the bot message stored, then
``Done``. Every wire format (widget SSE and JSON, the OpenAI-compatible endpoint) adapts this
one stream of typed events."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing

from fastapi import Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State

from backend.answers import service
from backend.answers.events import Done, TurnEvent
from backend.answers.generation import EmbeddingCache
from backend.answers.models import AssistantSettingsBase
from backend.answers.pipeline import AnswerPipeline, TurnRequest
from backend.conversations.models import Conversation

log = logging.getLogger(__name__)


def publish(request: Request, conversation_id: int) -> None:
    """Wake the conversation's live event streams (agents, other tabs)."""
    bus = getattr(request.app.state, "events", None)
    if bus is not None:
        bus.publish(conversation_id)


def build_pipeline(request: Request, config: AssistantSettingsBase) -> AnswerPipeline:
    """A pipeline on this process's runtimes (intent models, indexes, generator)."""
    state = request.app.state
    return AnswerPipeline(
        predict=state.intents.predict,
        knowledge=state.knowledge,
        llm=state.llm,
        config=config,
        embed=grounding_embed(state),
    )


def grounding_embed(state: State) -> EmbeddingCache | None:
    """The grounding check's embedder: the knowledge runtime's query embedder, with a cache of
    the passage sentences it embedded (one per process, kept on ``app.state``); None when the
    knowledge has no embedder (the check then uses word coverage and facts)."""
    embedder = getattr(state.knowledge, "embedder", None)
    if embedder is None:
        return None
    cache = getattr(state, "grounding_embeddings", None)
    if not isinstance(cache, EmbeddingCache) or cache.embedder is not embedder:
        cache = state.grounding_embeddings = EmbeddingCache(embedder)
    return cache


async def answer_events(
    request: Request,
    session: Session,
    conversation: Conversation,
    prepared: service.PreparedTurn,
    persist_ms: float,
) -> AsyncGenerator[TurnEvent, None]:
    """The turn's events, ending with ``Done`` once the bot message is stored; the message is
    stored even if the client goes away (or the consumer stops reading) before that."""
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
        # closed before the finally below persists: the pipeline's trace is complete by then
        async with aclosing(pipeline.run(turn)) as events:
            async for event in events:
                yield event
        message = await run_in_threadpool(
            service.persist_turn, session=session, conversation=conversation, result=pipeline.result
        )
        persisted = True
        publish(request, conversation.id or 0)
        yield Done(message.id if message else None)
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
