"""Per-product answer settings: the policy thresholds and the bot's fixed replies.

A product without a row uses the defaults below; ``PUT /admin/products/{id}/assistant`` stores
one. The threshold defaults were chosen on validation data (README, "Answers"; bench/README.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from backend.core.db import utcnow

# bench/floor.py: the highest floor keeping 98 % of BANKING77 train (results/floor.json)
DEFAULT_RETRIEVAL_FLOOR = 0.43
DEFAULT_MAX_UNSUPPORTED_SHARE = 0.0
DEFAULT_MAX_ANSWER_TOKENS = 160
DEFAULT_REPLIES = {
    "greeting_reply": "Hi! I'm the {product} assistant. What can I help you with?",
    "thanks_reply": "You're welcome! Anything else I can help with?",
    "goodbye_reply": "Goodbye, and thanks for getting in touch!",
    "handoff_reply": (
        "I'm passing you to a member of our team. Someone will reply here as soon as possible."
    ),
    "fallback_reply": (
        "Sorry, I can't help with that. I can answer questions about {topics}. "
        "If you'd like to talk to a person, just ask."
    ),
}


class AssistantSettingsBase(SQLModel):
    # Below this calibrated intent confidence the bot does not answer (fallback) unless retrieval
    # confirms the intent (next setting). Chosen with
    # bench/chat.py --dev (3,000 BANKING77 train texts, not the test set): the most accurate
    # setting that still answers at least 85 % of messages.
    min_confidence: float = Field(default=0.90, ge=0.0, le=1.0)
    # A FAQ intent is also answered from this confidence up when retrieval confirms it: the best
    # entry of a plain (unboosted) search is that intent's own. Two independent signals agreeing
    # are right far more often than the gate alone at the same confidence (dev: 87 % against
    # 45 % when they disagree). Set it equal to min_confidence to turn confirmation off.
    min_confidence_confirmed: float = Field(default=0.75, ge=0.0, le=1.0)
    # The bar for the reserved intents with fixed routes: handing over (human_agent, complaint)
    # and small talk (greeting, thanks, goodbye). Kept apart from min_confidence, which the dev
    # sweep raises for answers: a visitor asking for a person should not need 90 % certainty.
    min_confidence_reserved: float = Field(default=0.60, ge=0.0, le=1.0)
    # The approved FAQ answer is sent at once (no LLM) when the intent is at least this confident
    # and the best FAQ entry belongs to that intent (it may be below min_confidence, so that
    # confirmed answers go out as approved text too), or when the best FAQ entry's dense
    # similarity alone is at least fast_path_min_similarity.
    fast_path_min_confidence: float = Field(default=0.75, ge=0.0, le=1.0)
    fast_path_min_similarity: float = Field(default=0.85, ge=0.0, le=1.0)
    # The retrieval floor: when no retrieved passage or FAQ entry is at least this similar to the
    # message (the best hit's dense cosine), the bot falls back instead of answering, with or
    # without an intent model, and the generator never sees the message (the fast path, a
    # confident FAQ match, is above it anyway). Chosen with bench/floor.py: BANKING77 train
    # (in scope) against CLINC150 validation texts of non-banking intents (out of scope).
    min_retrieval_similarity: float = Field(default=DEFAULT_RETRIEVAL_FLOOR, ge=0.0, le=1.0)
    # Grounded or silent: a generated answer is sent only when the share of its claims that the
    # retrieved passages do not support is at most this (any contradiction, e.g. "no refund"
    # against "you can get a refund", replaces it whatever this says); else the extractive
    # answer replaces it. Unsupported sentences are never shown either way. 0.0 until
    # bench/grounding.py chooses it on a dev split.
    max_unsupported_share: float = Field(default=DEFAULT_MAX_UNSUPPORTED_SHARE, ge=0.0, le=1.0)
    persona: str = Field(default="", max_length=2000, sa_column=Column(Text, nullable=False))
    # A short answer: about two or three sentences (a long one checks worse and loops more).
    # The OpenAI-compatible endpoint lowers it further to a request's max_tokens.
    max_answer_tokens: int = Field(default=DEFAULT_MAX_ANSWER_TOKENS, ge=16, le=4096)
    prompt_token_budget: int = Field(default=1500, ge=256, le=100_000)
    greeting_reply: str = Field(default=DEFAULT_REPLIES["greeting_reply"], max_length=2000)
    thanks_reply: str = Field(default=DEFAULT_REPLIES["thanks_reply"], max_length=2000)
    goodbye_reply: str = Field(default=DEFAULT_REPLIES["goodbye_reply"], max_length=2000)
    handoff_reply: str = Field(default=DEFAULT_REPLIES["handoff_reply"], max_length=2000)
    fallback_reply: str = Field(default=DEFAULT_REPLIES["fallback_reply"], max_length=2000)


class AssistantSettings(AssistantSettingsBase, table=True):
    __tablename__ = "assistant_settings"

    product_id: int = Field(foreign_key="product.id", primary_key=True, ondelete="CASCADE")
    updated_at: datetime = Field(default_factory=utcnow)


class AssistantSettingsUpdate(SQLModel):
    min_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    min_confidence_confirmed: float | None = Field(default=None, ge=0.0, le=1.0)
    min_confidence_reserved: float | None = Field(default=None, ge=0.0, le=1.0)
    fast_path_min_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    fast_path_min_similarity: float | None = Field(default=None, ge=0.0, le=1.0)
    min_retrieval_similarity: float | None = Field(default=None, ge=0.0, le=1.0)
    max_unsupported_share: float | None = Field(default=None, ge=0.0, le=1.0)
    persona: str | None = Field(default=None, max_length=2000)
    max_answer_tokens: int | None = Field(default=None, ge=16, le=4096)
    prompt_token_budget: int | None = Field(default=None, ge=256, le=100_000)
    greeting_reply: str | None = Field(default=None, min_length=1, max_length=2000)
    thanks_reply: str | None = Field(default=None, min_length=1, max_length=2000)
    goodbye_reply: str | None = Field(default=None, min_length=1, max_length=2000)
    handoff_reply: str | None = Field(default=None, min_length=1, max_length=2000)
    fallback_reply: str | None = Field(default=None, min_length=1, max_length=2000)


class AssistantSettingsPublic(AssistantSettingsBase):
    product_id: int
