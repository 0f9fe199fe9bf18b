"""One bot turn: classify, decide, retrieve, answer (fast path, LLM or extractive), and record
the full trace. ``run`` yields the typed events of ``backend.answers.events`` in their documented
order (``Meta``, ``Token``…, ``Replace``, ``Error``, ``Sources``); the caller persists ``result``
(also when the client went away) and then sends ``Done``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool

from backend.answers import grounding, rules
from backend.answers.events import Error, Meta, PipelineEvent, Replace, Sources, Token
from backend.answers.llm import LLMRuntime
from backend.answers.models import AssistantSettingsBase
from backend.answers.policy import Decision, Route, decide
from backend.answers.trace import intent_trace, meta_event
from backend.conversations.models import ConversationStatus
from ml.generation.client import Finished, TextDelta
from ml.generation.errors import GeneratorError
from ml.generation.guards import StreamGuard
from ml.generation.prompt import Passage, Prompt, build_prompt
from ml.interfaces import ChatMessage, IntentPrediction

log = logging.getLogger(__name__)
GENERATION_FAILED = "The answer could not be completed; here is what our help pages say."
Predict = Callable[[int, str], tuple[str | None, IntentPrediction | None]]


@dataclass(frozen=True)
class TurnRequest:
    """The visitor message to answer, already persisted, and its context."""

    product_id: int
    product_name: str
    status: ConversationStatus
    text: str
    history: list[ChatMessage] = field(default_factory=list)
    persist_ms: float = 0.0


@dataclass
class TurnResult:
    """What the turn produced so far (persisted by the caller, even after a disconnect)."""

    text: str = ""
    route: str = ""
    new_status: ConversationStatus | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)
    trace: dict[str, Any] = field(default_factory=dict)

    @property
    def silent(self) -> bool:
        """True when the bot must not reply (a person handles the conversation)."""
        return self.route == Route.silent.value


def policy_decision(
    config: AssistantSettingsBase,
    status: ConversationStatus,
    prediction: IntentPrediction | None,
    *,
    confirmed: bool = False,
    rule: rules.RuleMatch | None = None,
) -> Decision:
    """:func:`policy.decide` with the product's thresholds (and the rule that recognised the
    message on the retrieval-only path)."""
    return decide(
        status=status,
        prediction=prediction,
        min_confidence=config.min_confidence,
        confirmed=confirmed,
        min_confidence_confirmed=config.min_confidence_confirmed,
        min_confidence_reserved=config.min_confidence_reserved,
        rule=rule.intent if rule else None,
    )


class AnswerPipeline:
    """Runs one turn with the process's runtimes and the product's answer settings."""

    def __init__(
        self,
        *,
        predict: Predict,
        knowledge: grounding.Searcher,
        llm: LLMRuntime,
        config: AssistantSettingsBase,
    ) -> None:
        self.predict = predict
        self.knowledge = knowledge
        self.llm = llm
        self.config = config
        self.result = TurnResult()
        self._t0 = time.perf_counter()
        self._latency: dict[str, float] = {}

    def _lap(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self._latency[stage] = round((now - since) * 1000, 2)
        return now

    async def run(self, req: TurnRequest) -> AsyncIterator[PipelineEvent]:
        """The turn's events, in order (see the module docstring)."""
        self._t0 = t = time.perf_counter()
        self._latency["persist"] = round(req.persist_ms, 2)
        trace = self.result.trace
        version, prediction = await run_in_threadpool(self.predict, req.product_id, req.text)
        t = self._lap("classify", t)
        config = self.config
        rule = None
        if prediction is None:  # no intent model: the retrieval-only rules (not on the loop)
            rule = await run_in_threadpool(rules.match, req.text, product_name=req.product_name)
            trace["rule"] = rule.trace() if rule else None
        decision = policy_decision(config, req.status, prediction, rule=rule)
        retrieved = grounding.Retrieved(None)
        if decision.route in (Route.answer, Route.fallback):
            retrieved = await run_in_threadpool(
                grounding.retrieve,
                self.knowledge,
                product_id=req.product_id,
                query=req.text,
                prediction=prediction,
                min_confidence=config.min_confidence,
            )
            t = self._lap("retrieve", t)
            trace["retrieval"] = retrieved.trace()
            if retrieved.confirmed and decision.route == Route.fallback:
                decision = policy_decision(config, req.status, prediction, confirmed=True)
            floored = grounding.apply_floor(decision, retrieved, prediction, config)
            decision, trace["floor"] = floored
        trace.update(intent_trace(version, prediction, decision))
        try:
            async for event in self._answer(req, decision, prediction, retrieved):
                yield event
        finally:
            self._latency["total"] = round((time.perf_counter() - self._t0) * 1000, 2)
            trace["latency_ms"] = self._latency
            trace["sources"] = self.result.sources

    async def _answer(
        self,
        req: TurnRequest,
        decision: Decision,
        prediction: IntentPrediction | None,
        retrieved: grounding.Retrieved,
    ) -> AsyncIterator[PipelineEvent]:
        result, config = self.result, self.config

        def meta(route: str, model: str | None = None) -> Meta:
            result.route = route
            return meta_event(
                prediction, decision, route=route, llm_available=self.llm.healthy, model=model
            )

        if decision.route == Route.silent:
            yield meta(Route.silent.value)
            return
        if decision.route != Route.answer:
            if decision.route == Route.handoff:
                result.new_status = ConversationStatus.waiting_for_agent
            text = self._fixed_reply(decision, req, retrieved)
            yield meta(decision.route.value)
            async for event in self._emit_fixed(text):
                yield event
            yield Sources([])
            return
        hit = grounding.fast_path_hit(retrieved, prediction, config)
        if hit is not None:
            result.sources = [grounding.source(hit, number=1, kind="answer")]
            result.trace["cited"] = [hit.chunk.id]
            result.trace["grounded"] = True
            yield meta("fast_path")
            async for event in self._emit_fixed(grounding.approved_answer(hit)):
                yield event
            yield Sources(result.sources)
            return
        if not retrieved.hits or not self.llm.healthy or self.llm.client is None:
            yield meta("extractive" if retrieved.hits else "fallback")
            async for event in self._emit_extractive(req, retrieved):
                yield event
            return
        yield meta("llm", self.llm.model)
        async for event in self._generate(req, retrieved):
            yield event

    def _fixed_reply(
        self, decision: Decision, req: TurnRequest, retrieved: grounding.Retrieved
    ) -> str:
        template = str(getattr(self.config, decision.reply_key or "fallback_reply"))
        return template.replace("{product}", req.product_name).replace(
            "{topics}", grounding.fallback_topics(retrieved)
        )

    async def _emit_fixed(self, text: str) -> AsyncIterator[PipelineEvent]:
        self.result.text = text
        self._latency.setdefault("first_token", self._since_start())
        yield Token(text)

    def _since_start(self) -> float:
        return round((time.perf_counter() - self._t0) * 1000, 2)

    async def _emit_extractive(
        self, req: TurnRequest, retrieved: grounding.Retrieved
    ) -> AsyncIterator[PipelineEvent]:
        """The answer without the generator: best FAQ answer or passage, else the fallback."""
        found = grounding.extractive_answer(retrieved)
        if found is None:
            reply_key = "fallback_reply"
            text = self._fixed_reply(Decision(Route.fallback, "", reply_key), req, retrieved)
            self.result.trace["grounded"] = False
            async for event in self._emit_fixed(text):
                yield event
            yield Sources([])
            return
        text, hit = found
        self.result.sources = [grounding.source(hit, number=1, kind="answer")]
        self.result.trace.update(cited=[hit.chunk.id], grounded=True)
        async for event in self._emit_fixed(text):
            yield event
        yield Sources(self.result.sources)

    async def _generate(
        self, req: TurnRequest, retrieved: grounding.Retrieved
    ) -> AsyncIterator[PipelineEvent]:
        """Stream from the generator through the guard; on failure, error then extractive."""
        assert self.llm.client is not None
        result, trace = self.result, self.result.trace
        passages = [
            Passage(
                number=i,
                chunk_id=h.chunk.id,
                title=h.chunk.title,
                text=h.chunk.text,
                url=h.chunk.metadata.get("url"),
            )
            for i, h in enumerate(retrieved.hits, 1)
        ]
        t = time.perf_counter()
        # the visitor's text and history go through regexes: never on the event loop
        prompt, guard = await run_in_threadpool(self._prompt, req, passages)
        t = self._lap("prompt", t)
        gen: dict[str, Any] = {
            "model": self.llm.model,
            "prompt_version": prompt.version,
            "prompt_tokens_estimate": prompt.estimated_tokens,
            "history_used": prompt.history_used,
            # the exact messages sent: a turn can be replayed and audited from its trace
            "prompt": [{"role": m.role, "content": m.content} for m in prompt.messages],
            "max_tokens": self.config.max_answer_tokens,
        }
        trace["generator"] = gen
        stream = self.llm.client.stream_events(
            prompt.messages, max_tokens=self.config.max_answer_tokens
        )
        try:
            async for event in stream:
                if isinstance(event, TextDelta):
                    self._latency.setdefault("first_token", self._since_start())
                    safe = guard.feed(event.text)
                    result.text = guard.emitted
                    if safe:
                        yield Token(safe)
                elif isinstance(event, Finished):
                    gen.update(
                        finish_reason=event.finish_reason,
                        prompt_tokens=event.prompt_tokens,
                        completion_tokens=event.completion_tokens,
                    )
        except GeneratorError as exc:
            if exc.retryable:
                self.llm.mark_down()
            trace["error"] = {"code": type(exc).__name__, "message": str(exc)}
            trace["partial_text"] = guard.emitted
            log.warning("generation failed: %s", exc)
            yield Error("generation_failed", GENERATION_FAILED, discard_partial=True)
            result.route = "extractive"
            trace["route_after_error"] = "extractive"
            async for item in self._emit_extractive(req, retrieved):
                yield item
            return
        finally:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await stream.aclose()  # type: ignore[attr-defined]
            self._latency["generate"] = round((time.perf_counter() - t) * 1000, 2)
        tail = guard.flush()
        if tail:
            yield Token(tail)
        checked = guard.finish()
        result.text = checked.text
        if checked.text != guard.emitted:
            yield Replace(checked.text)
        result.sources, fields = grounding.llm_sources(
            checked, [p.chunk_id for p in passages], [p.text for p in passages], retrieved
        )
        trace.update(fields)
        yield Sources(result.sources)

    def _prompt(self, req: TurnRequest, passages: list[Passage]) -> tuple[Prompt, StreamGuard]:
        """The generator's prompt and the guard of its answer (run in a worker thread)."""
        prompt = build_prompt(
            question=req.text,
            passages=passages,
            history=req.history,
            product_name=req.product_name,
            persona=self.config.persona or None,
            token_budget=self.config.prompt_token_budget,
        )
        guard = StreamGuard(
            system_prompt=prompt.system, allowed_urls=prompt.allowed_urls, n_passages=len(passages)
        )
        return prompt, guard
