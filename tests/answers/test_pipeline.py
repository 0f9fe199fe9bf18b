"""The answer pipeline with deterministic fakes (intent, retrieval, generator): event order,
routes, fast path, citations, guards, failures and early close."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from backend.answers import generation as generation_module
from backend.answers.events import Error, Meta, PipelineEvent, Sources, Token
from backend.answers.llm import LLMRuntime
from backend.answers.models import AssistantSettingsBase
from backend.answers.pipeline import AnswerPipeline, TurnRequest
from backend.conversations.models import ConversationStatus
from backend.core.settings import load_settings
from ml.generation import prompt as prompt_module
from ml.generation.errors import GeneratorTimeout
from ml.interfaces import Chunk
from ml.testing.fake_generator import FakeGenerator, UncitingGenerator
from ml.testing.fakes import FakeKnowledge
from ml.testing.fakes import fixed_predictor as predictor

pytestmark = pytest.mark.unit

FAQ = Chunk(
    id="faq-card-arrival",
    text="My card has not arrived\nCards arrive within 5 working days. Track it in the app.",
    title="My card has not arrived",
    metadata={
        "kind": "faq",
        "category": "card_arrival",
        "answer": "Cards arrive within 5 working days. Track it in the app.",
        "url": "https://help.example.com/cards",
    },
)
PASSAGE = Chunk(
    id="doc-fees-1",
    text="Top-ups by card are free. Transfers abroad cost 0.5 %.",
    title="Fees",
    metadata={"kind": "passage", "category": None, "url": None},
)


def run(
    intent: str | None,
    *,
    confidence: float = 0.9,
    chunks: list[Chunk] | None = None,
    generator: FakeGenerator | None = None,
    healthy: bool = True,
    status: ConversationStatus = ConversationStatus.bot,
    dense: float = 0.5,
    config: AssistantSettingsBase | None = None,
) -> tuple[list[PipelineEvent], AnswerPipeline]:
    llm = LLMRuntime(load_settings(), client=generator or FakeGenerator())
    llm.healthy = healthy
    pipeline = AnswerPipeline(
        predict=predictor(intent, confidence),
        knowledge=FakeKnowledge([FAQ, PASSAGE] if chunks is None else chunks, dense),
        llm=llm,
        config=config or AssistantSettingsBase(),
    )
    request = TurnRequest(product_id=1, product_name="Lumen", status=status, text="where is it?")

    async def go() -> list[PipelineEvent]:
        return [e async for e in pipeline.run(request)]

    return asyncio.run(go()), pipeline


def kinds(events: list[PipelineEvent]) -> list[str]:
    return [type(e).__name__.lower() for e in events]


def text_of(events: list[PipelineEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, Token))


def meta(events: list[PipelineEvent]) -> Meta:
    assert isinstance(events[0], Meta)
    return events[0]


def sources(events: list[PipelineEvent]) -> list[dict[str, Any]]:
    assert isinstance(events[-1], Sources)
    return events[-1].sources


def test_fast_path_sends_the_approved_answer_without_the_llm() -> None:
    gen = FakeGenerator()
    events, pipeline = run("card_arrival", generator=gen)
    assert kinds(events) == ["meta", "token", "sources"]
    assert meta(events).route == "fast_path" and meta(events).intent == "card_arrival"
    assert text_of(events) == FAQ.metadata["answer"]
    assert sources(events)[0]["chunk_id"] == FAQ.id
    assert gen.calls == []
    trace = pipeline.result.trace
    assert trace["grounded"] and trace["cited"] == [FAQ.id]
    assert {"persist", "classify", "retrieve", "first_token", "total"} <= set(trace["latency_ms"])
    assert trace["intent_model"] == "model-1" and trace["retrieval"]["index_version"] == "idx-1"


def test_llm_path_streams_cites_and_traces() -> None:
    events, pipeline = run("transfer_fees", chunks=[PASSAGE, FAQ])
    assert kinds(events)[0] == "meta" and kinds(events)[-1] == "sources"
    assert set(kinds(events)[1:-1]) == {"token"}
    assert meta(events).route == "llm"
    answer = text_of(events)
    assert answer.endswith("[1]")
    found = sources(events)
    assert [s["kind"] for s in found] == ["cited"] and found[0]["chunk_id"] == PASSAGE.id
    trace = pipeline.result.trace
    assert trace["grounded"] is True and trace["cited"] == [PASSAGE.id]
    assert trace["generator"]["prompt_version"] and "first_token" in trace["latency_ms"]


def test_generator_failure_mid_stream_sends_error_then_a_fallback_answer() -> None:
    events, pipeline = run(
        "transfer_fees", chunks=[PASSAGE], generator=FakeGenerator(fail_after_tokens=2)
    )
    names = kinds(events)
    assert names.index("error") < len(names) - 1
    after = events[names.index("error") + 1 :]
    assert kinds(after) == ["token", "sources"]
    assert pipeline.result.route == "extractive"
    assert isinstance(after[0], Token) and pipeline.result.text == after[0].text
    error = events[names.index("error")]
    assert isinstance(error, Error) and error.discard_partial and error.code == "generation_failed"
    assert pipeline.result.trace["error"]["code"] == "GeneratorUnavailable"
    assert pipeline.llm.healthy is False  # the next visitor does not wait for it


def test_generator_down_answers_extractively_and_says_so() -> None:
    gen = FakeGenerator()
    events, _ = run("transfer_fees", chunks=[PASSAGE], generator=gen, healthy=False)
    assert meta(events).route == "extractive" and meta(events).llm_available is False
    assert text_of(events).startswith("Top-ups by card are free.")
    assert gen.calls == []


def test_timeout_before_first_token_falls_back() -> None:
    gen = FakeGenerator(fail_before_first=GeneratorTimeout("no token in 0.5 s"))
    events, _ = run("transfer_fees", chunks=[PASSAGE], generator=gen)
    assert "error" in kinds(events) and kinds(events)[-1] == "sources"


@pytest.mark.parametrize(
    ("intent", "route"),
    [("human_agent", "handoff"), ("greeting", "smalltalk"), ("out_of_scope", "fallback")],
)
def test_fixed_routes(intent: str, route: str) -> None:
    events, pipeline = run(intent)
    assert kinds(events) == ["meta", "token", "sources"]
    assert meta(events).route == route
    assert (pipeline.result.new_status == ConversationStatus.waiting_for_agent) == (
        route == "handoff"
    )
    assert "{product}" not in text_of(events) and "{topics}" not in text_of(events)


def test_fallback_names_nearby_topics() -> None:
    events, _ = run("weather", confidence=0.05)
    assert "card arrival" in text_of(events)


def test_silent_while_an_agent_handles_the_conversation() -> None:
    events, pipeline = run("card_arrival", status=ConversationStatus.agent)
    assert kinds(events) == ["meta"] and pipeline.result.silent


def test_intent_boost_puts_the_predicted_intents_faq_first() -> None:
    events, pipeline = run("card_arrival", chunks=[PASSAGE, FAQ])
    assert pipeline.result.trace["retrieval"]["boosted_intent"] == "card_arrival"
    assert meta(events).route == "fast_path"


def test_retrieval_confirmation_answers_a_less_sure_gate_from_the_approved_text() -> None:
    config = AssistantSettingsBase(
        min_confidence=0.6, min_confidence_confirmed=0.3, fast_path_min_confidence=0.3
    )
    events, pipeline = run("card_arrival", confidence=0.4, config=config)  # FAQ ranked first
    assert meta(events).route == "fast_path"
    assert text_of(events) == FAQ.metadata["answer"]
    trace = pipeline.result.trace
    assert trace["retrieval"]["confirmed"] is True
    assert "confirmed by retrieval" in trace["policy"]["reason"]
    # the same gate verdict when retrieval ranks something else first: fallback
    events, pipeline = run("card_arrival", confidence=0.4, config=config, chunks=[PASSAGE, FAQ])
    assert meta(events).route == "fallback"
    assert pipeline.result.trace["retrieval"]["confirmed"] is False


def test_no_knowledge_means_fallback_not_an_llm_guess() -> None:
    gen = FakeGenerator()
    events, _ = run("transfer_fees", chunks=[], generator=gen)
    assert meta(events).route == "fallback" and gen.calls == []


def test_closing_the_stream_early_cancels_the_generator() -> None:
    # the first sentence is shown once checked, while the generator goes on with the next ones
    gen = FakeGenerator(
        answer=f"{PASSAGE.text} Top up in the app. It takes a minute.", delay_s=0.01
    )
    llm = LLMRuntime(load_settings(), client=gen)
    llm.healthy = True
    pipeline = AnswerPipeline(
        predict=predictor("transfer_fees"),
        knowledge=FakeKnowledge([PASSAGE]),
        llm=llm,
        config=AssistantSettingsBase(),
    )
    request = TurnRequest(product_id=1, product_name="L", status=ConversationStatus.bot, text="q")

    async def go() -> int:
        events = pipeline.run(request)
        async for event in events:
            if isinstance(event, Token):
                break
        await events.aclose()
        return gen.cancelled  # by the time aclose() returns, not at garbage collection

    assert asyncio.run(go()) == 1
    assert pipeline.result.text  # what was produced is kept for persisting
    assert "total" in pipeline.result.trace["latency_ms"]
    grounding = pipeline.result.trace["grounding"]
    assert grounding["shown_text"] == pipeline.result.text == "Top-ups by card are free."
    assert grounding["generated_text"].startswith(pipeline.result.text)


def test_uncited_answer_is_ungrounded_but_attributed_to_its_passage() -> None:
    events, pipeline = run("transfer_fees", chunks=[FAQ, PASSAGE], generator=UncitingGenerator())
    trace = pipeline.result.trace
    assert "[" not in pipeline.result.text
    assert trace["grounded"] is False and trace["cited"] == []
    assert trace["attributed"] == [FAQ.id]
    found = sources(events)
    assert [(s["kind"], s["chunk_id"]) for s in found] == [("attributed", FAQ.id)]


def test_the_prompt_is_built_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    # the visitor's text and history go through regexes there: a slow input must not stall
    # every other request of the process
    threads: list[int] = []
    real = prompt_module.build_prompt

    def spy(**kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return real(**kwargs)

    monkeypatch.setattr(generation_module, "build_prompt", spy)
    events, _ = run("transfer_fees", chunks=[PASSAGE])  # asyncio.run: the loop is this thread
    assert meta(events).route == "llm"
    assert threads and threads[0] != threading.get_ident()
