"""The answer policy: given who handles the conversation and what the intent gate says, decide
what the bot does with a visitor message. One pure function, no I/O, unit-tested case by case.

Order matters and is the documented contract:
1. a conversation handled by a person (or waiting for one) gets no bot reply;
2. no intent model yet: the retrieval-only rules (``backend/answers/rules.py``) recognise a
   request for a person, a complaint, or bare small talk, and name the same reserved intent the
   model would (same routes, same replies, no confidence bar); anything else is answered from the
   knowledge (retrieval decides);
3. the visitor asks for a person, or complains (confidently: ``min_confidence_reserved``): hand
   over;
4. out of scope: fall back, saying what the bot can do;
5. greetings, thanks and goodbyes (``min_confidence_reserved``) get a short configured reply, no
   retrieval;
6. a FAQ intent the gate is sure of (``min_confidence``), or that retrieval confirms
   (``min_confidence_confirmed``), is answered from the knowledge; anything less sure falls back.

After retrieval, an answer whose best hit is below the retrieval floor falls back instead
(:func:`below_floor`), with or without a model.
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
    min_confidence_reserved: float | None = None,
    rule: str | None = None,
) -> Decision:
    """The policy's decision for one visitor message (see the module docstring for the order).
    ``confirmed``: retrieval's best FAQ entry (plain search) is the predicted intent's own; then
    ``min_confidence_confirmed`` (when lower) is enough to answer. ``min_confidence_reserved``
    (default: ``min_confidence``) is the bar for handing over and for small talk. ``rule``: the
    reserved intent the retrieval-only rules recognised (read only without a prediction)."""
    if status in (ConversationStatus.agent, ConversationStatus.waiting_for_agent):
        return Decision(Route.silent, f"conversation is {ConversationStatus(status).value}")
    if prediction is None:
        if rule in HANDOFF_INTENTS:
            return Decision(Route.handoff, f"no intent model: rule {rule}", "handoff_reply")
        if rule in SMALLTALK_INTENTS:
            return Decision(
                Route.smalltalk, f"no intent model: rule {rule}", SMALLTALK_INTENTS[rule]
            )
        return Decision(Route.answer, "no intent model: answering from retrieval")
    conf, intent = prediction.confidence, prediction.intent
    reserved_bar = min_confidence if min_confidence_reserved is None else min_confidence_reserved
    if intent in HANDOFF_INTENTS and conf >= reserved_bar:
        return Decision(Route.handoff, f"intent {intent}", "handoff_reply")
    if intent == OUT_OF_SCOPE or prediction.is_out_of_scope:
        return Decision(Route.fallback, "out of scope", "fallback_reply")
    if intent in SMALLTALK_INTENTS and conf >= reserved_bar:
        return Decision(Route.smalltalk, f"intent {intent}", SMALLTALK_INTENTS[intent])
    if intent in HANDOFF_INTENTS or intent in SMALLTALK_INTENTS:
        return Decision(
            Route.fallback, f"confidence {conf:.2f} below {reserved_bar:.2f}", "fallback_reply"
        )
    if conf >= min_confidence:
        return Decision(Route.answer, f"intent {intent}")
    if confirmed and min_confidence_confirmed is not None and conf >= min_confidence_confirmed:
        return Decision(Route.answer, f"intent {intent} at {conf:.2f}, confirmed by retrieval")
    return Decision(
        Route.fallback, f"confidence {conf:.2f} below {min_confidence:.2f}", "fallback_reply"
    )


def below_floor(decision: Decision, *, best: float, floor: float) -> Decision:
    """An answer falls back when the best retrieved hit's similarity is below the retrieval
    floor (the knowledge has nothing close to the message); other decisions stand."""
    if decision.route != Route.answer or best >= floor:
        return decision
    return Decision(
        Route.fallback,
        f"best retrieval similarity {best:.2f} below the floor {floor:.2f}",
        "fallback_reply",
    )
