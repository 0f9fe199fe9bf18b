"""Grounded or silent, in the answer pipeline with deterministic fakes: a generated sentence is
shown only once the passages support it; a contradiction, too many unsupported claims or a loop
replace the answer (the trace says why and keeps both texts); an out-of-scope message never
reaches the generator; a message in a language the models do not know gets the fallback or the
handoff in its own words."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from backend.answers.events import Meta, PipelineEvent, Replace, Sources, Token
from backend.answers.generation import LLM_REPLACED, EmbeddingCache
from backend.answers.llm import LLMRuntime
from backend.answers.models import AssistantSettingsBase
from backend.answers.pipeline import AnswerPipeline, TurnRequest
from backend.conversations.models import ConversationStatus
from backend.core.settings import load_settings
from ml.interfaces import Chunk, IntentPrediction, Vector
from ml.testing.fake_generator import FakeGenerator
from ml.testing.fakes import FakeKnowledge, HashingEmbedder
from ml.testing.fakes import fixed_predictor as predictor

pytestmark = pytest.mark.unit

REFUND = Chunk(
    id="doc-refunds-1",
    text=(
        "You can ask for a refund of a card payment you don't recognise. "
        "Open it in the app and tap Dispute."
    ),
    title="Refunds",
    metadata={"kind": "passage", "category": None, "url": None},
)
CONTRADICTION = "No, you cannot get a refund."
SUPPORTED = REFUND.text
LOOP = "You can't get a new card, so " * 80


class EmbeddingKnowledge(FakeKnowledge):
    """``FakeKnowledge`` with a query embedder, as the knowledge runtime has one."""

    def __init__(self, chunks: list[Chunk], dense: float = 0.6) -> None:
        super().__init__(chunks, dense)
        self.embedder = HashingEmbedder()


class Turn:
    """One pipeline run: its events and the pipeline (result, trace)."""

    def __init__(
        self,
        generator: FakeGenerator,
        *,
        text: str = "Can I get a refund for a card payment I don't recognise?",
        intent: str | None = "request_refund",
        chunks: list[Chunk] | None = None,
        dense: float = 0.6,
        status: ConversationStatus = ConversationStatus.bot,
        config: AssistantSettingsBase | None = None,
    ) -> None:
        llm = LLMRuntime(load_settings(), client=generator)
        llm.healthy = True
        self.predicted: list[str] = []
        predict = predictor(intent)

        def spy(product_id: int, message: str) -> tuple[str | None, IntentPrediction | None]:
            self.predicted.append(message)
            return predict(product_id, message)

        self.knowledge = FakeKnowledge([REFUND] if chunks is None else chunks, dense)
        self.pipeline = AnswerPipeline(
            predict=spy,
            knowledge=self.knowledge,
            llm=llm,
            config=config or AssistantSettingsBase(),
            embed=HashingEmbedder().embed,
        )
        request = TurnRequest(product_id=1, product_name="Lumen", status=status, text=text)

        async def go() -> list[PipelineEvent]:
            return [e async for e in self.pipeline.run(request)]

        self.events = asyncio.run(go())
        self.trace: dict[str, Any] = self.pipeline.result.trace

    @property
    def meta(self) -> Meta:
        assert isinstance(self.events[0], Meta)
        return self.events[0]

    @property
    def tokens(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, Token)]

    @property
    def kinds(self) -> list[str]:
        return [type(e).__name__.lower() for e in self.events]


def test_a_contradicting_answer_is_never_shown_and_is_replaced() -> None:
    gen = FakeGenerator(answer=CONTRADICTION)
    turn = Turn(gen)
    assert turn.meta.route == "llm"  # meta goes out before the answer is known
    assert all("cannot" not in t and "No," not in t for t in turn.tokens)
    # nothing was shown, so the extractive answer simply is the answer
    assert turn.kinds == ["meta", "token", "sources"]
    result = turn.pipeline.result
    assert result.route == LLM_REPLACED
    assert result.text == turn.tokens[0] and result.text.startswith("You can ask for a refund")
    grounding = turn.trace["grounding"]
    assert grounding["send"] is False and grounding["reason"] == "contradiction"
    assert grounding["stopped"] == "contradiction" and grounding["held"] == [CONTRADICTION]
    assert grounding["generated_text"] == CONTRADICTION
    assert grounding["sent_text"] == result.text and grounding["sent_by"] == "extractive"
    claim = grounding["claims"][0]
    assert claim["reasons"] and claim["text"] == CONTRADICTION
    assert grounding["check_ms"] and grounding["check_ms"][0] >= 0
    assert turn.trace["repetition"] is False and turn.trace["cited"] == [REFUND.id]
    sources = turn.events[-1]
    assert isinstance(sources, Sources) and sources.sources[0]["chunk_id"] == REFUND.id


def test_a_contradiction_after_a_shown_sentence_stops_and_replaces_it() -> None:
    answer = (
        "You can ask for a refund of a card payment you don't recognise. "
        "No, refunds are not possible after 5 days. Call us on 0800 123 456 to ask why."
    )
    gen = FakeGenerator(answer=answer)
    turn = Turn(gen)
    assert turn.tokens[0] == "You can ask for a refund of a card payment you don't recognise."
    assert turn.kinds == ["meta", "token", "replace", "sources"]
    replace = turn.events[2]
    assert isinstance(replace, Replace) and replace.text == turn.pipeline.result.text
    assert "5 days" not in "".join(turn.tokens)
    assert gen.cancelled == 1 and gen.sent < len(answer.split())  # stopped at once
    grounding = turn.trace["grounding"]
    assert grounding["stopped"] == "contradiction" and len(grounding["claims"]) == 2
    assert grounding["shown_text"] == turn.tokens[0] and grounding["generated_text"] != answer
    assert turn.pipeline.result.route == LLM_REPLACED


def test_a_supported_answer_streams_sentence_by_sentence() -> None:
    gen = FakeGenerator(answer=SUPPORTED)
    turn = Turn(gen)
    assert turn.tokens == [
        "You can ask for a refund of a card payment you don't recognise.",
        " Open it in the app and tap Dispute.",
    ]
    assert turn.kinds == ["meta", "token", "token", "sources"]
    result = turn.pipeline.result
    assert result.route == "llm" and result.text == SUPPORTED
    grounding = turn.trace["grounding"]
    assert grounding["send"] is True and grounding["sent_by"] == "generator"
    assert grounding["held"] == [] and grounding["sent_text"] == SUPPORTED
    assert [c["text"] for c in grounding["claims"]] == [t.strip() for t in turn.tokens]
    latency = turn.trace["latency_ms"]
    assert latency["first_visible"] >= latency["first_token"] > 0
    assert turn.trace["attributed"] == [REFUND.id]  # no citation: where its words came from
    # the request carried the product's answer length and the penalties
    request = gen.requests[0]
    assert request["max_tokens"] == AssistantSettingsBase().max_answer_tokens == 160
    assert request["frequency_penalty"] == load_settings().llm_frequency_penalty
    assert request["repetition_penalty"] == load_settings().llm_repetition_penalty


def test_an_unsupported_sentence_is_held_and_the_share_decides() -> None:
    invented = "Disputes are reviewed by our fraud team."  # unsupported, contradicting nothing
    answer = f"{SUPPORTED} {invented}"
    # the default (0.0): any unsupported claim replaces the answer; the shown part stays supported
    turn = Turn(FakeGenerator(answer=answer))
    assert invented not in "".join(turn.tokens) and turn.kinds[-2] == "replace"
    grounding = turn.trace["grounding"]
    assert grounding["held"] == [invented] and grounding["reason"] == "unsupported_share"
    assert grounding["stopped"] == "unsupported"
    # a product that tolerates one claim in three: the supported sentences are the answer
    config = AssistantSettingsBase(max_unsupported_share=0.34)
    turn = Turn(FakeGenerator(answer=answer), config=config)
    assert turn.pipeline.result.route == "llm" and turn.pipeline.result.text == SUPPORTED
    assert "replace" not in turn.kinds and invented not in "".join(turn.tokens)
    grounding = turn.trace["grounding"]
    assert grounding["send"] is True and 0.3 < grounding["unsupported_share"] < 0.34
    assert grounding["generated_text"] == answer and grounding["held"] == [invented]


def test_a_loop_stops_the_generator_early_and_falls_back() -> None:
    gen = FakeGenerator(answer=LOOP)
    turn = Turn(gen)
    assert gen.cancelled == 1 and gen.sent <= 30  # not the 160 tokens the loop would take
    assert turn.trace["repetition"] is True
    grounding = turn.trace["grounding"]
    assert grounding["stopped"] == "repetition"
    assert grounding["repetition"]["loop"]["kind"] == "ngram"
    assert turn.pipeline.result.route == LLM_REPLACED
    assert turn.pipeline.result.text.startswith("You can ask for a refund")
    assert "can't get a new card" not in "".join(turn.tokens)


@pytest.mark.parametrize(
    ("intent", "dense", "reaches"),
    [
        (None, 0.2, False),  # no intent model, nothing close in the knowledge
        ("request_refund", 0.2, False),  # a model, nothing close
        ("out_of_scope", 0.9, False),  # the model says out of scope
        (None, 0.6, True),  # the control: in scope, above the floor
    ],
)
def test_out_of_scope_never_reaches_the_generator(
    intent: str | None, dense: float, reaches: bool
) -> None:
    gen = FakeGenerator(answer=SUPPORTED)
    turn = Turn(gen, text="What's the capital of France?", intent=intent, dense=dense)
    assert bool(gen.calls) is reaches
    assert turn.meta.route == ("llm" if reaches else "fallback")
    if not reaches:
        assert turn.pipeline.result.route == "fallback" and "generator" not in turn.trace


@pytest.mark.parametrize(
    ("text", "route", "language", "reply"),
    [
        ("我的卡还没到，怎么办？", "fallback", "zh", "只能用英文回答"),  # noqa: RUF001
        ("我要人工客服", "handoff", "zh", "转接人工客服"),
        ("Где моя карта? Она до сих пор не пришла.", "fallback", "ru", "only answer in English"),
        ("Quiero hablar con un agente humano, por favor.", "handoff", "es", "passing you"),
    ],
)
def test_a_language_the_models_do_not_know_skips_them(
    text: str, route: str, language: str, reply: str
) -> None:
    gen = FakeGenerator(answer=SUPPORTED)
    turn = Turn(gen, text=text)
    assert turn.meta.route == route and turn.kinds == ["meta", "token", "sources"]
    assert reply in turn.tokens[0]
    assert turn.predicted == [] and turn.knowledge.calls == 0 and gen.calls == []
    assert turn.trace["language"]["language"] == language
    assert turn.trace["language"]["supported"] is False
    assert "not supported" in turn.trace["policy"]["reason"]
    waiting = turn.pipeline.result.new_status == ConversationStatus.waiting_for_agent
    assert waiting is (route == "handoff")


def test_the_language_is_traced_on_every_turn_and_status_rules_come_first() -> None:
    turn = Turn(FakeGenerator(answer=SUPPORTED))
    assert turn.trace["language"]["supported"] is True and turn.trace["language"]["language"]
    assert turn.predicted  # an English message goes to the gate
    held = Turn(FakeGenerator(), text="我要人工客服", status=ConversationStatus.agent)
    assert held.kinds == ["meta"] and held.pipeline.result.silent
    assert held.trace["language"]["language"] == "zh"


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> Vector:
        self.batches.append(list(texts))
        return super().embed(texts)


def test_the_evidence_cache_embeds_each_passage_sentence_once() -> None:
    inner = CountingEmbedder()
    cache = EmbeddingCache(inner, size=3)
    first = cache(["a b", "c d", "a b"])
    assert inner.batches == [["a b", "c d"]]  # one batch, each text once
    np.testing.assert_array_equal(first, HashingEmbedder().embed(["a b", "c d", "a b"]))
    again = cache(["c d", "e f"])
    assert inner.batches[-1] == ["e f"]  # only what it had not seen
    np.testing.assert_array_equal(again, HashingEmbedder().embed(["c d", "e f"]))
    cache(["g h"])  # over its size: the least recently used ("a b") goes
    cache(["a b"])
    assert inner.batches[-1] == ["a b"] and cache(["e f", "g h"]).shape == (2, 64)
    assert inner.batches[-1] == ["a b"]
    assert cache([]).shape[0] == 0
