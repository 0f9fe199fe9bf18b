"""The answer policy, case by case (pure function)."""

from __future__ import annotations

import pytest

from backend.answers.policy import Route, decide
from backend.conversations.models import ConversationStatus
from ml.interfaces import IntentPrediction

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
