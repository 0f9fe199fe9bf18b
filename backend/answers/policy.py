"""The answer policy: given who handles the conversation and what the intent gate says, decide
what the bot does with a visitor message. One pure function, no I/O, unit-tested case by case.

Order matters and is the documented contract:
1. a conversation handled by a person (or waiting for one) gets no bot reply;
2. no intent model yet: try to answer from the knowledge (retrieval decides);
3. the visitor asks for a person, or complains (confidently): hand over;
4. out of scope, or the gate is not confident enough: fall back, saying what the bot can do
   (a FAQ intent that retrieval confirms needs only ``min_confidence_confirmed``);
5. greetings, thanks and goodbyes get a short configured reply, no retrieval;
6. everything else is answered from the knowledge.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from backend.conversations.models import ConversationStatus
from ml.interfaces import IntentPrediction

HANDOFF_INTENTS = frozenset({"human_agent", "complaint"})
SMALLTALK_INTENTS = {
    "greeting": "greeting_reply",
    "thanks": "thanks_reply",
    "goodbye": "goodbye_reply",
}
OUT_OF_SCOPE = "out_of_scope"


class Route(enum.StrEnum):
    silent = "silent"  # a person handles the conversation
    handoff = "handoff"
    smalltalk = "smalltalk"
    fallback = "fallback"
    answer = "answer"


@dataclass(frozen=True)
class Decision:
    """What to do, why (for the trace), and which configured reply a fixed route uses."""

    route: Route
    reason: str
    reply_key: str | None = None


def decide(
    *,
    status: ConversationStatus,
    prediction: IntentPrediction | None,
    min_confidence: float,
    confirmed: bool = False,
    min_confidence_confirmed: float | None = None,
) -> Decision:
    """The policy's decision for one visitor message (see the module docstring for the order).
    ``confirmed``: retrieval's best FAQ entry (plain search) is the predicted intent's own; then
    ``min_confidence_confirmed`` (when lower) is enough to answer."""
    if status in (ConversationStatus.agent, ConversationStatus.waiting_for_agent):
        return Decision(Route.silent, f"conversation is {ConversationStatus(status).value}")
    if prediction is None:
        return Decision(Route.answer, "no intent model: answering from retrieval")
    confident = prediction.confidence >= min_confidence
    if prediction.intent in HANDOFF_INTENTS and confident:
        return Decision(Route.handoff, f"intent {prediction.intent}", "handoff_reply")
    if prediction.intent == OUT_OF_SCOPE or prediction.is_out_of_scope:
        return Decision(Route.fallback, "out of scope", "fallback_reply")
    if (
        not confident
        and confirmed
        and min_confidence_confirmed is not None
        and prediction.intent not in HANDOFF_INTENTS
        and prediction.intent not in SMALLTALK_INTENTS
        and prediction.confidence >= min_confidence_confirmed
    ):
        return Decision(
            Route.answer,
            f"intent {prediction.intent} at {prediction.confidence:.2f}, confirmed by retrieval",
        )
    if not confident:
        return Decision(
            Route.fallback,
            f"confidence {prediction.confidence:.2f} below {min_confidence:.2f}",
            "fallback_reply",
        )
    if prediction.intent in SMALLTALK_INTENTS:
        return Decision(
            Route.smalltalk, f"intent {prediction.intent}", SMALLTALK_INTENTS[prediction.intent]
        )
    return Decision(Route.answer, f"intent {prediction.intent}")
