"""The first questions a new user asks, before any intent model is active: the retrieval-only
path against the real demo knowledge (both demo files ingested and indexed as the API does, the
real embedder, the ONNX query embedder), the generator off. Each is routed right, and answers come
from the right FAQ entry."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from backend.answers.llm import LLMRuntime
from backend.answers.models import AssistantSettingsBase
from backend.answers.pipeline import AnswerPipeline, TurnRequest, TurnResult
from backend.conversations.models import ConversationStatus
from backend.core.settings import load_settings
from backend.knowledge import indexing
from backend.knowledge.demo import DEMO_DIR, DEMO_FILES
from backend.knowledge.ingest import limits_from, make_chunks
from backend.knowledge.parsing.parse import parse_file
from ml.interfaces import IntentPrediction, ScoredChunk
from ml.retrieval.hybrid import HybridIndex

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# the FAQ entries (categories) that answer each question; "reset my PIN" is either entry's
# (BANKING77 train labels "reset my PIN" 4 times pin_blocked, 2 times change_pin, and both
# answers tell how to see, unblock and change it)
ANSWERS = {
    "my card still hasn't arrived, it's been two weeks": {"card_arrival"},
    "how do I reset my PIN": {"change_pin", "pin_blocked"},
    "are there fees for topping up with a credit card": {"top_up_by_card_charge"},
}
FIXED = {  # route, then the rule's intent and its reply (None: the retrieval floor decides)
    "what is the weather in Paris": ("fallback", None),
    "write me a poem about the sea": ("fallback", None),
    "who won the world cup": ("fallback", None),
    "I want to talk to a human": ("handoff", "human_agent"),
    "this is ridiculous, I want to make a complaint": ("handoff", "complaint"),
    "hi there": ("smalltalk", "greeting"),
    "thanks, bye": ("smalltalk", "goodbye"),
}
REPLY = {"human_agent": "handoff_reply", "complaint": "handoff_reply"}


class DemoKnowledge:
    """The demo index behind the pipeline's ``Searcher`` interface (one product)."""

    def __init__(self, index: HybridIndex) -> None:
        self.index = index

    def search(
        self, product_id: int, query: str, k: int = 5, *, filters: Mapping[str, Any] | None = None
    ) -> tuple[str | None, list[ScoredChunk]]:
        return "demo", self.index.search(query, k, filters)


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory: pytest.TempPathFactory) -> DemoKnowledge:
    settings = load_settings().model_copy(update={"data_dir": tmp_path_factory.mktemp("demo")})
    items = []
    for name in DEMO_FILES:
        parsed = parse_file(Path(DEMO_DIR / name), name, limits_from(settings))
        chunks = make_chunks(parsed, product_id=1, settings=settings)
        items += [indexing.to_item(chunk, name) for chunk in chunks]
    embedder = indexing.embedder_for(settings.embedding_model)
    index = HybridIndex.build(items, embedder, version="demo", fusion=indexing.fusion_for(settings))
    return DemoKnowledge(index.reconfigured(embedder=indexing.query_embedder_for(settings)))


def no_model(product_id: int, text: str) -> tuple[str | None, IntentPrediction | None]:
    return None, None


def ask(knowledge: DemoKnowledge, text: str) -> TurnResult:
    settings = load_settings().model_copy(update={"llm_base_url": ""})
    pipeline = AnswerPipeline(
        predict=no_model,
        knowledge=knowledge,
        llm=LLMRuntime(settings),  # no generator: fast path or extractive answers
        config=AssistantSettingsBase(),
    )
    request = TurnRequest(
        product_id=1, product_name="Lumen Bank", status=ConversationStatus.bot, text=text
    )

    async def go() -> None:
        async for _ in pipeline.run(request):
            pass

    asyncio.run(go())
    return pipeline.result


@pytest.mark.parametrize(("text", "categories"), ANSWERS.items())
def test_questions_are_answered_from_the_right_faq_entry(
    knowledge: DemoKnowledge, text: str, categories: set[str]
) -> None:
    result = ask(knowledge, text)
    assert result.route in ("fast_path", "extractive")
    top = result.trace["retrieval"]["hits"][0]
    assert top["kind"] == "faq" and top["category"] in categories
    assert [s["chunk_id"] for s in result.sources] == [top["chunk_id"]]
    assert result.trace["floor"]["best"] >= AssistantSettingsBase().min_retrieval_similarity
    assert result.trace["floor"]["fell_back"] is False and result.trace["rule"] is None


@pytest.mark.parametrize(("text", "expected"), FIXED.items())
def test_other_messages_get_their_fixed_route(
    knowledge: DemoKnowledge, text: str, expected: tuple[str, str | None]
) -> None:
    route, rule = expected
    result = ask(knowledge, text)
    assert result.route == route and result.sources == []
    config = AssistantSettingsBase()
    if rule is not None:  # recognised by a rule, before any retrieval
        reply = getattr(config, REPLY.get(rule, f"{rule}_reply"))
        assert result.text == reply.replace("{product}", "Lumen Bank")
        assert result.trace["rule"]["intent"] == rule
        assert "retrieval" not in result.trace
    else:  # nothing in the knowledge is close enough: the retrieval floor
        assert result.trace["floor"]["fell_back"] is True
        assert result.trace["floor"]["best"] < config.min_retrieval_similarity
        assert "below the floor" in result.trace["policy"]["reason"]
    assert (result.new_status == ConversationStatus.waiting_for_agent) == (route == "handoff")
