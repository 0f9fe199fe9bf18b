"""The parts of a bot message's trace and ``Meta`` event that describe the intent gate's verdict."""

from __future__ import annotations

from typing import Any

from backend.answers.events import Meta
from backend.answers.policy import Decision
from ml.generation.prompt import PROMPT_VERSION
from ml.interfaces import IntentPrediction


def meta_event(
    prediction: IntentPrediction | None,
    decision: Decision,
    *,
    route: str,
    llm_available: bool,
    model: str | None = None,
) -> Meta:
    """The gate's verdict and the route taken, as the turn's ``Meta`` event."""
    return Meta(
        route=route,
        intent=prediction.intent if prediction else None,
        confidence=round(prediction.confidence, 4) if prediction else None,
        out_of_scope=prediction.is_out_of_scope if prediction else None,
        reason=decision.reason,
        llm_available=llm_available,
        model=model,
    )


def intent_trace(
    version: str | None, prediction: IntentPrediction | None, decision: Decision
) -> dict[str, Any]:
    """The gate's verdict, the policy's decision and the versions, for the message trace."""
    intent = None
    if prediction is not None:
        intent = {
            "name": prediction.intent,
            "confidence": round(prediction.confidence, 5),
            "out_of_scope": prediction.is_out_of_scope,
            "top_k": [[n, round(p, 5)] for n, p in prediction.top_k],
        }
        first = prediction.first_opinion
        if first is not None:  # the fast model was unsure: the second opinion decided
            intent["first_opinion"] = {
                "name": first.intent,
                "confidence": round(first.confidence, 5),
            }
    return {
        "intent": intent,
        "intent_model": version,
        "policy": {"route": decision.route.value, "reason": decision.reason},
        "prompt_version": PROMPT_VERSION,
    }
