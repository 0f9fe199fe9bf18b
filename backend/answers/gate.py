"""What decides a turn before any answer is looked for: the policy with the product's
thresholds, and the decision for a message in a language the models do not know."""

from __future__ import annotations

from backend.answers import language, rules
from backend.answers.models import AssistantSettingsBase
from backend.answers.policy import Decision, Route, decide
from backend.conversations.models import ConversationStatus
from ml.interfaces import IntentPrediction


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


def language_decision(
    status: ConversationStatus, text: str, check: language.LanguageCheck, product_name: str
) -> tuple[Decision, str | None]:
    """The decision for a message in a language the models do not know, and its reply (worded
    in the visitor's language where the widget has one): the status rules first (a person
    handles the conversation: silent), then the handoff when the visitor asks for a person, else
    the fallback. Neither the intent gate nor retrieval sees the message. Run off the loop."""
    first = decide(status=status, prediction=None, min_confidence=1.0)
    if first.route == Route.silent:
        return first, None
    handoff = language.asks_for_person(text, check.language)
    reason = f"language {check.language} is not supported"
    decision = (
        Decision(Route.handoff, f"{reason}: asks for a person", "handoff_reply")
        if handoff
        else Decision(Route.fallback, reason, "fallback_reply")
    )
    reply = language.unsupported_language_reply(
        check.language, handoff=handoff, product_name=product_name
    )
    return decision, reply
