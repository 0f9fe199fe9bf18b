"""The answer policy, case by case (pure function), with the retrieval-only rules' routes and
the retrieval floor."""

from __future__ import annotations

import pytest

from backend.answers.grounding import Retrieved, apply_floor, best_similarity
from backend.answers.models import AssistantSettingsBase, AssistantSettingsUpdate
from backend.answers.policy import Decision, Route, below_floor, decide
from backend.conversations.models import ConversationStatus
from ml.interfaces import Chunk, IntentPrediction, ScoredChunk

pytestmark = pytest.mark.unit


def pred(intent: str, confidence: float = 0.9, oos: bool = False) -> IntentPrediction:
    return IntentPrediction(intent=intent, confidence=confidence, is_out_of_scope=oos)


@pytest.mark.parametrize(
    ("prediction", "route", "reply"),
    [
        (pred("human_agent"), Route.handoff, "handoff_reply"),
        (pred("complaint"), Route.handoff, "handoff_reply"),
        (pred("greeting"), Route.smalltalk, "greeting_reply"),
        (pred("thanks"), Route.smalltalk, "thanks_reply"),
        (pred("goodbye"), Route.smalltalk, "goodbye_reply"),
        (pred("out_of_scope"), Route.fallback, "fallback_reply"),
        (pred("card_arrival", oos=True), Route.fallback, "fallback_reply"),
        (pred("card_arrival", confidence=0.2), Route.fallback, "fallback_reply"),
        (pred("card_arrival"), Route.answer, None),
        (None, Route.answer, None),
    ],
)
def test_routes(prediction: IntentPrediction | None, route: Route, reply: str | None) -> None:
    decision = decide(status=ConversationStatus.bot, prediction=prediction, min_confidence=0.3)
    assert decision.route == route
    assert decision.reply_key == reply
    assert decision.reason


@pytest.mark.parametrize("status", [ConversationStatus.agent, ConversationStatus.waiting_for_agent])
def test_bot_is_silent_while_a_person_handles_it(status: ConversationStatus) -> None:
    for prediction in (pred("card_arrival"), pred("human_agent"), pred("greeting"), None):
        decision = decide(status=status, prediction=prediction, min_confidence=0.3)
        assert decision.route == Route.silent


def test_unsure_handoff_request_falls_back_instead_of_paging_a_person() -> None:
    decision = decide(
        status=ConversationStatus.bot, prediction=pred("human_agent", 0.1), min_confidence=0.3
    )
    assert decision.route == Route.fallback


def test_threshold_is_inclusive() -> None:
    decision = decide(
        status=ConversationStatus.bot, prediction=pred("card_arrival", 0.3), min_confidence=0.3
    )
    assert decision.route == Route.answer


def confirmed(prediction: IntentPrediction, *, confirmed: bool = True) -> Route:
    return decide(
        status=ConversationStatus.bot,
        prediction=prediction,
        min_confidence=0.6,
        confirmed=confirmed,
        min_confidence_confirmed=0.3,
    ).route


def test_retrieval_confirmation_lowers_the_bar_for_faq_intents_only() -> None:
    assert confirmed(pred("card_arrival", 0.35)) == Route.answer
    assert confirmed(pred("card_arrival", 0.35), confirmed=False) == Route.fallback
    assert confirmed(pred("card_arrival", 0.25)) == Route.fallback  # below the confirmed bar
    assert confirmed(pred("card_arrival", 0.35, oos=True)) == Route.fallback
    # confirmation never pages a person or sends small talk on a weak guess
    assert confirmed(pred("human_agent", 0.35)) == Route.fallback
    assert confirmed(pred("greeting", 0.35)) == Route.fallback
    reason = decide(
        status=ConversationStatus.bot,
        prediction=pred("card_arrival", 0.35),
        min_confidence=0.6,
        confirmed=True,
        min_confidence_confirmed=0.3,
    ).reason
    assert "confirmed by retrieval" in reason


def test_handoff_and_small_talk_have_their_own_bar() -> None:
    def route(intent: str, confidence: float) -> Route:
        return decide(
            status=ConversationStatus.bot,
            prediction=pred(intent, confidence),
            min_confidence=0.9,
            min_confidence_reserved=0.6,
        ).route

    assert route("human_agent", 0.7) == Route.handoff  # a request for a person needs 0.6, not 0.9
    assert route("complaint", 0.7) == Route.handoff
    assert route("greeting", 0.7) == Route.smalltalk
    assert route("human_agent", 0.5) == Route.fallback
    assert route("thanks", 0.5) == Route.fallback
    assert route("card_arrival", 0.7) == Route.fallback  # answers keep min_confidence
    assert route("card_arrival", 0.9) == Route.answer


@pytest.mark.parametrize(
    ("rule", "route", "reply"),
    [
        ("human_agent", Route.handoff, "handoff_reply"),
        ("complaint", Route.handoff, "handoff_reply"),
        ("greeting", Route.smalltalk, "greeting_reply"),
        ("thanks", Route.smalltalk, "thanks_reply"),
        ("goodbye", Route.smalltalk, "goodbye_reply"),
        (None, Route.answer, None),
    ],
)
def test_without_a_model_the_rules_give_the_models_routes(
    rule: str | None, route: Route, reply: str | None
) -> None:
    decision = decide(status=ConversationStatus.bot, prediction=None, min_confidence=0.9, rule=rule)
    assert (decision.route, decision.reply_key) == (route, reply)
    # the same routes and replies as the model's reserved intents
    if rule is not None:
        by_model = decide(status=ConversationStatus.bot, prediction=pred(rule), min_confidence=0.9)
        assert (by_model.route, by_model.reply_key) == (route, reply)
        assert f"rule {rule}" in decision.reason


def test_rules_neither_override_a_model_nor_a_person() -> None:
    with_model = decide(
        status=ConversationStatus.bot,
        prediction=pred("card_arrival"),
        min_confidence=0.5,
        rule="human_agent",
    )
    assert with_model.route == Route.answer  # the model's verdict wins
    silent = decide(
        status=ConversationStatus.agent, prediction=None, min_confidence=0.5, rule="greeting"
    )
    assert silent.route == Route.silent


def test_below_the_floor_an_answer_falls_back() -> None:
    answer = Decision(Route.answer, "no intent model: answering from retrieval")
    fell = below_floor(answer, best=0.30, floor=0.43)
    assert (fell.route, fell.reply_key) == (Route.fallback, "fallback_reply")
    assert "0.30 below the floor 0.43" in fell.reason
    assert below_floor(answer, best=0.43, floor=0.43) is answer  # inclusive
    handoff = Decision(Route.handoff, "intent human_agent", "handoff_reply")
    assert below_floor(handoff, best=0.0, floor=0.43) is handoff  # only answers are floored


def hit(category: str, dense: float, kind: str = "faq") -> ScoredChunk:
    meta = {"kind": kind, "category": category, "answer": "The answer."}
    return ScoredChunk(
        Chunk(f"c-{category}", "text", category, meta), dense + 0.1, 1, {"dense": dense}
    )


def test_floor_uses_the_best_dense_similarity_and_spares_the_fast_path() -> None:
    config = AssistantSettingsBase(min_retrieval_similarity=0.4, fast_path_min_confidence=0.75)
    answer = Decision(Route.answer, "intent card_arrival")
    low = Retrieved("v1", [hit("card_arrival", 0.35), hit("fees", 0.38, "passage")])
    assert best_similarity(low) == pytest.approx(0.38)
    assert best_similarity(Retrieved("v1")) == 0.0
    # an unsure model (no fast path) and nothing close enough: fallback, traced
    decision, trace = apply_floor(answer, low, pred("card_arrival", 0.6), config)
    assert decision.route == Route.fallback
    assert trace == {"min_similarity": 0.4, "best": 0.38, "fell_back": True}
    # a confident model whose intent's FAQ entry is first takes the fast path: not floored
    decision, trace = apply_floor(answer, low, pred("card_arrival", 0.95), config)
    assert decision is answer and trace["fell_back"] is False
    # a hit above the floor: answered
    high = Retrieved("v1", [hit("card_arrival", 0.55)])
    assert apply_floor(answer, high, None, config)[0] is answer
    # nothing retrieved at all: below any positive floor
    assert apply_floor(answer, Retrieved("v1"), None, config)[0].route == Route.fallback


def test_the_floor_setting_is_validated() -> None:
    with pytest.raises(ValueError):
        AssistantSettingsUpdate(min_retrieval_similarity=1.5)
    assert AssistantSettingsUpdate(min_retrieval_similarity=0.5).min_retrieval_similarity == 0.5
