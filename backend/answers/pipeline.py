"""One bot turn: check the language, classify, decide, retrieve, answer (fast path, LLM or
extractive), and record the full trace. ``run`` yields the typed events of
``backend.answers.events`` in their documented order (``Meta``, ``Token``…, ``Replace``,
``Error``, ``Sources``); the caller persists ``result`` (also when the client went away) and
then sends ``Done``. The generated answer itself is streamed by ``backend.answers.generation``
(grounded or silent); when it is not sent, the extractive answer replaces it here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool

from backend.answers import grounding, language, rules
from backend.answers.events import Error, Meta, PipelineEvent, Replace, Sources, Token
from backend.answers.gate import language_decision, policy_decision
from backend.answers.generation import LLM_REPLACED, Embed, GroundedStream
from backend.answers.llm import LLMRuntime
from backend.answers.models import AssistantSettingsBase
from backend.answers.policy import Decision, Route
from backend.answers.trace import intent_trace, meta_event
from backend.conversations.models import ConversationStatus
from ml.generation.errors import GeneratorError
from ml.generation.guards import CheckedAnswer, cited_numbers
from ml.generation.prompt import Passage
from ml.interfaces import ChatMessage, IntentPrediction

__all__ = ["AnswerPipeline", "TurnRequest", "TurnResult", "language_decision", "policy_decision"]
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


class AnswerPipeline:
    """Runs one turn with the process's runtimes and the product's answer settings; ``embed``
    (the knowledge runtime's query embedder) scores generated sentences against the passages
    (None: the lexical and fact checks only)."""

    def __init__(
        self,
        *,
        predict: Predict,
        knowledge: grounding.Searcher,
        llm: LLMRuntime,
        config: AssistantSettingsBase,
        embed: Embed | None = None,
    ) -> None:
        self.predict = predict
        self.knowledge = knowledge
        self.llm = llm
        self.config = config
        self.embed = embed
        self.result = TurnResult()
        self._t0 = time.perf_counter()
        self._latency: dict[str, float] = {}
        self._reply: str | None = None  # a fixed route's reply chosen before the policy's

    def _lap(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self._latency[stage] = round((now - since) * 1000, 2)
        return now

    async def run(self, req: TurnRequest) -> AsyncGenerator[PipelineEvent, None]:
        """The turn's events, in order (see the module docstring)."""
        self._t0 = t = time.perf_counter()
        self._latency["persist"] = round(req.persist_ms, 2)
        trace = self.result.trace
        check = await run_in_threadpool(language.check_language, req.text)
        trace["language"] = check.trace()
        t = self._lap("language", t)
        version, prediction, retrieved = None, None, grounding.Retrieved(None)
        if check.supported:
            version, prediction, decision, retrieved = await self._decide(req, t)
        else:  # the English models would guess: no classifier, no retrieval
            decision, self._reply = await run_in_threadpool(
                language_decision, req.status, req.text, check, req.product_name
            )
        trace.update(intent_trace(version, prediction, decision))
        try:  # closing the turn closes the generator's stream now, not at garbage collection
            async with aclosing(self._answer(req, decision, prediction, retrieved)) as events:
                async for event in events:
                    yield event
        finally:
            self._latency["total"] = round((time.perf_counter() - self._t0) * 1000, 2)
            trace["latency_ms"] = self._latency
            trace["sources"] = self.result.sources

    async def _decide(
        self, req: TurnRequest, t: float
    ) -> tuple[str | None, IntentPrediction | None, Decision, grounding.Retrieved]:
        """Classify, apply the policy, retrieve, apply the retrieval floor."""
        trace, config = self.result.trace, self.config
        version, prediction = await run_in_threadpool(self.predict, req.product_id, req.text)
        t = self._lap("classify", t)
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
            self._lap("retrieve", t)
            trace["retrieval"] = retrieved.trace()
            if retrieved.confirmed and decision.route == Route.fallback:
                decision = policy_decision(config, req.status, prediction, confirmed=True)
            decision, trace["floor"] = grounding.apply_floor(
                decision, retrieved, prediction, config
            )
        return version, prediction, decision, retrieved

    async def _answer(
        self,
        req: TurnRequest,
        decision: Decision,
        prediction: IntentPrediction | None,
        retrieved: grounding.Retrieved,
    ) -> AsyncGenerator[PipelineEvent, None]:
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
            text = self._reply or self._fixed_reply(decision, req, retrieved)
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
        async with aclosing(self._generate(req, retrieved)) as events:
            async for event in events:
                yield event

    def _fixed_reply(
        self, decision: Decision, req: TurnRequest, retrieved: grounding.Retrieved
    ) -> str:
        template = str(getattr(self.config, decision.reply_key or "fallback_reply"))
        return template.replace("{product}", req.product_name).replace(
            "{topics}", grounding.fallback_topics(retrieved)
        )

    async def _emit_fixed(self, text: str) -> AsyncGenerator[PipelineEvent, None]:
        self.result.text = text
        self._latency.setdefault("first_token", self._since_start())
        self._latency.setdefault("first_visible", self._since_start())
        yield Token(text)

    def _since_start(self) -> float:
        return round((time.perf_counter() - self._t0) * 1000, 2)

    def _extractive(self, req: TurnRequest, retrieved: grounding.Retrieved) -> str:
        """The answer without the generator (best FAQ answer or passage, else the fallback
        reply), its sources and trace fields set on the result."""
        found = grounding.extractive_answer(retrieved)
        if found is None:
            self.result.sources = []
            self.result.trace.update(cited=[], grounded=False)
            return self._fixed_reply(Decision(Route.fallback, "", "fallback_reply"), req, retrieved)
        text, hit = found
        self.result.sources = [grounding.source(hit, number=1, kind="answer")]
        self.result.trace.update(cited=[hit.chunk.id], grounded=True)
        return text

    async def _emit_extractive(
        self, req: TurnRequest, retrieved: grounding.Retrieved
    ) -> AsyncGenerator[PipelineEvent, None]:
        async for event in self._emit_fixed(self._extractive(req, retrieved)):
            yield event
        yield Sources(self.result.sources)

    async def _generate(
        self, req: TurnRequest, retrieved: grounding.Retrieved
    ) -> AsyncGenerator[PipelineEvent, None]:
        """Stream the checked sentences; then send them, or replace them; on a generator
        failure, an error then the extractive answer."""
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
        stream = GroundedStream(
            client=self.llm.client,
            config=self.config,
            penalties=self.llm.penalties,
            embed=self.embed,
            passages=passages,
            trace=trace,
            latency=self._latency,
            started=self._t0,
        )
        try:
            texts = stream.tokens(req.text, req.history, req.product_name)
            async with aclosing(texts):
                async for text in texts:
                    result.text = stream.visible
                    yield Token(text)
        except GeneratorError as exc:
            if exc.retryable:
                self.llm.mark_down()
            trace["error"] = {"code": type(exc).__name__, "message": str(exc)}
            trace["partial_text"] = stream.visible
            log.warning("generation failed: %s", exc)
            yield Error("generation_failed", GENERATION_FAILED, discard_partial=True)
            result.route = "extractive"
            trace["route_after_error"] = "extractive"
            async for item in self._emit_extractive(req, retrieved):
                yield item
            return
        trace["repetition"] = stream.repetition.looping
        checked = stream.checked
        assert checked is not None
        if "system_prompt_leak" in checked.violations:
            text, sent_by = checked.text, "refusal"
        elif stream.send:
            text, sent_by = stream.visible, "generator"
            n = len(passages)
            cited = cited_numbers(text, n)
            checked = CheckedAnswer(text, cited, checked.violations, bool(cited))
        else:
            result.route = LLM_REPLACED
            text = self._extractive(req, retrieved)
            sent_by = "extractive" if result.sources else "fallback"
        if sent_by in ("generator", "refusal"):
            result.sources, fields = grounding.llm_sources(
                checked, [p.chunk_id for p in passages], [p.text for p in passages], retrieved
            )
            trace.update(fields)
        trace["grounding"].update(sent_text=text, sent_by=sent_by)
        result.text = text
        if text != stream.visible:
            self._latency.setdefault("first_visible", self._since_start())
            yield Replace(text) if stream.visible else Token(text)
        yield Sources(result.sources)
