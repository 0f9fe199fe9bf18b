"""Cheap, deterministic fact checks of one answer sentence against the passages (no model).

Two kinds of facts are compared with the evidence sentences *related* to the claim (those that
share the most content words with it, weighted by rarity, see :class:`FactIndex`):

- quantities (parsed by :mod:`ml.generation.quantities`): amounts
  (``€5``, ``£1.50``, ``0.5%``, "free"), durations and ranges ("5-7 working days", "5 to 7
  days", "two weeks", "24 hours"), clock times and plain numbers. Each must appear in a related
  sentence with the same unit kind and the same value; a single value where the evidence gives a
  range is a conflict unless marked as its bound ("up to 7 days" for "5-7 days");
- negation, clause by clause: for each word that a negation negates (its "head", on either
  side), the evidence clause that shares most with the claim clause and mentions that word must
  have the same polarity for it ("can be cancelled" flips "can't be cancelled", "you can't get
  a refund" flips "we'll refund it", but "stays in your account" is no flip of "never leaves
  your account": the negated verb differs). Left alone: double negations ("can't ... without"),
  hypothetical clauses ("if it hasn't arrived"), elliptic evidence ("if they won't, ..."), and a
  conditional claim ("you can X once Y") against "you can't X until/unless Y". A fee where the
  matching evidence only says free ("no fee", "doesn't charge") is a flip too;
- a leading "Yes"/"No" conflicts with a flip or with an evidence sentence that leads with the
  other answer.

Each rule is a cheap heuristic meant to catch the flips a generator really makes (the adversarial
set in ``data/grounding``) while letting faithful rewordings through; it is no parser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from ml.generation.claims import split_claims
from ml.generation.quantities import (
    WORD_NUMBERS,
    Quantity,
    Token,
    number_term,
    quantities,
    stem,
    tokens,
    word_set,
    zero_cost,
)

# Markers of a condition in a claim ("once", "if") and of a conditional negation in evidence
# ("can't ... until/unless/except").
_CLAIM_CONDITIONS = word_set("if once after when only until unless soon long")
_EVIDENCE_CONDITIONS = word_set("unless until except")
_BOUNDARY_WORDS = word_set(
    "but so unless until although though whereas because except while if once when"
)
_BOUNDARY_PUNCT = frozenset(",;:()\u2014[]")
_NEGATIONS = word_set("not no never cannot nothing nobody none neither nor unable without")
# Words after a negation that are not what it negates ("isn't possible to choose" negates
# "choose"; "no longer protect" negates "protect").
_WEAK_HEADS = word_set(
    "possibl able allow necessary requir likely still also always yet even longer"
)
_COST_WORDS = word_set("fee charg cost")
_HYPOTHETICAL = word_set("if when unless once")
_RELATED = 0.5  # a related sentence scores at least this share of the best one


@dataclass
class Clause:
    """Part of a sentence between boundaries, with its polarity and what it says about cost."""

    words: set[str] = field(default_factory=set)
    negations: int = 0
    heads: list[str] = field(default_factory=list)  # the word each negation negates
    scope: set[str] = field(default_factory=set)  # the words after a negation
    conditional: bool = False  # a negation followed, later in the sentence, by unless/until
    double: bool = False  # "can't ... without": a negation of a negation, left alone
    elliptic: bool = False  # a negation with nothing after it ("if they won't,")
    hypothetical: bool = False  # starts with "if", "when", "unless": asserts nothing
    zero: bool = False  # says something is free ("free", "no fee", "doesn't charge")
    cost: bool = False  # mentions a fee, a charge or a cost
    amount: bool = False  # states a non-zero amount

    @property
    def negated(self) -> bool:
        """Has a negation (two independent ones, "can't ... you don't", still negate)."""
        return self.negations > 0 and not self.double


@dataclass
class Analysis:
    """What the fact checks need to know about one sentence."""

    words: set[str]  # stemmed content words
    terms: set[str]  # the words plus numbers (for lexical coverage)
    clauses: list[Clause]
    quantities: list[tuple[Quantity, int]]  # with the index of their clause
    answer: str  # "yes" or "no" when the sentence leads with it, else ""
    conditional: bool  # contains a condition marker ("if", "once", ...)

    @property
    def elliptic(self) -> bool:
        """Has a negation whose object is elsewhere ("If they won't, ...")."""
        return any(c.elliptic for c in self.clauses)


def _is_negation(toks: list[Token], i: int) -> bool:
    text = toks[i].text
    return toks[i].kind == "word" and (text in _NEGATIONS or text.endswith("n't"))


def analyse(sentence: str, evidence: bool = False) -> Analysis:
    """Words, clauses with their negations, quantities and leading yes/no of ``sentence``
    (``evidence``: a passage's sentence, where "one" always counts as a number)."""
    toks = tokens(sentence)
    answer = ""
    if toks and toks[0].text in ("yes", "no") and (len(toks) == 1 or not toks[1].text.isalpha()):
        answer, toks = toks[0].text, toks[1:]
    words: set[str] = set()
    terms: set[str] = set()
    clauses = [Clause(hypothetical=bool(toks) and toks[0].text in _HYPOTHETICAL)]
    clause_of: list[int] = []
    conditional = False
    pending = False  # the last negation has not found its word yet
    for i, tok in enumerate(toks):
        text = tok.text
        clause_of.append(len(clauses) - 1)
        conditional = conditional or text in _CLAIM_CONDITIONS
        if text in _BOUNDARY_PUNCT or text in _BOUNDARY_WORDS:
            if text in _EVIDENCE_CONDITIONS:
                for clause in clauses:
                    clause.conditional = clause.conditional or clause.negations > 0
            clauses[-1].elliptic = clauses[-1].elliptic or pending
            clauses.append(Clause(hypothetical=text in _HYPOTHETICAL))
            pending = False
            continue
        clause = clauses[-1]
        if zero_cost(toks, i):
            clause.zero = True
            if text != "free":
                continue  # "no fee", "doesn't charge": a price of zero, not a negation
        if _is_negation(toks, i):
            clause.double = clause.double or (clause.negations > 0 and text == "without")
            clause.negations += 1
            pending = True
            continue
        if tok.kind == "number" or text in WORD_NUMBERS:
            terms.add(number_term(text))
        word = stem(text) if tok.kind == "word" else ""
        if not word:
            continue
        words.add(word)
        terms.add(word)
        clause.words.add(word)
        clause.cost = clause.cost or word in _COST_WORDS
        if clause.negations:
            clause.scope.add(word)
        if pending and word not in _WEAK_HEADS:
            clause.heads.append(word)
            pending = False
    clauses[-1].elliptic = clauses[-1].elliptic or pending
    found = quantities(toks, evidence)
    for q in found:
        clauses[clause_of[q.at]].amount |= q.kind == "amount" and q.high > 0
    return Analysis(
        words, terms, clauses, [(q, clause_of[q.at]) for q in found], answer, conditional
    )


class FactIndex:
    """The evidence sentences of some passages, analysed once, to check claims against."""

    def __init__(self, sentences: Sequence[str]) -> None:
        self.sentences = list(sentences)
        self.analyses = [analyse(s, evidence=True) for s in self.sentences]
        df: dict[str, int] = {}
        for a in self.analyses:
            for w in a.words:
                df[w] = df.get(w, 0) + 1
        n = max(len(self.analyses), 1)
        self._idf = {w: math.log(1.0 + n / d) for w, d in df.items()}
        self._unseen = math.log(1.0 + n)

    def weight(self, words: set[str]) -> float:
        """Summed rarity of ``words`` in the evidence (unseen words weigh the most)."""
        return sum(self._idf.get(w, self._unseen) for w in words)

    def related(self, words: set[str], share: float = _RELATED) -> list[int]:
        """Indexes of the evidence sentences sharing most of ``words``, best first (each
        scores at least ``share`` of the best)."""
        scores = [(self.weight(words & a.words), i) for i, a in enumerate(self.analyses)]
        best = max((s for s, _ in scores), default=0.0)
        if best <= 0.0:
            return []
        return [i for s, i in sorted(scores, key=lambda x: -x[0]) if s >= share * best]

    def conflicts(self, sentence: str) -> list[str]:
        """Reasons why ``sentence`` disagrees with the evidence (empty when it agrees)."""
        return self.check(analyse(sentence))

    def check(self, claim: Analysis) -> list[str]:
        """Reasons why the analysed claim disagrees with the evidence (empty when it agrees)."""
        related = self.related(claim.words) if claim.words else list(range(len(self.analyses)))
        reasons = []
        for q, at in claim.quantities:
            # in a sentence related to the claim, or to the clause that states the quantity
            words = claim.clauses[at].words
            pool = set(related) | set(self.related(words) if len(words) > 1 else [])
            if not any(q.matches(e) for i in pool for e, _ in self.analyses[i].quantities):
                reasons.append(f"{'amount' if q.kind == 'amount' else 'number'}:{q.text}")
        flip = any(self._flip(c, claim) for c in claim.clauses if c.words)
        if flip:
            reasons.append("negation")
        lead = self.analyses[related[0]].answer if related else ""
        if claim.answer and (flip or (lead and lead != claim.answer)):
            reasons.append("polarity")
        return reasons

    def _flip(self, clause: Clause, claim: Analysis) -> bool:
        """Whether the evidence that matches ``clause`` best says the opposite: a word one side
        negates and the other asserts, or a fee where the evidence says free."""
        related = [self.analyses[i] for i in self.related(clause.words)]
        if not related or clause.double or clause.hypothetical:
            return False
        if any(a.elliptic for a in related):
            return False
        if len(clause.words & related[0].words) < min(2, len(clause.words)):
            return False  # too little in common to compare
        evidence = [e for a in related for e in a.clauses if not e.double and not e.hypothetical]
        heads = set(clause.heads) if clause.negated else set()
        heads |= {h for e in evidence if e.negated for h in e.heads} & clause.words
        for head in heads:
            using = [e for e in evidence if head in e.words]
            if not using:
                continue
            best = max(self.weight(clause.words & e.words) for e in using)
            top = [e for e in using if self.weight(clause.words & e.words) >= best - 1e-9]
            claimed = clause.negated and head in clause.scope
            if any((e.negated and head in e.scope) == claimed for e in top):
                continue
            if claimed and clause.conditional:
                continue  # "you can't X unless Y" may well agree with "you can X"
            if not (claim.conditional and any(e.conditional for e in top)):
                return True
        if clause.cost and not clause.zero and not clause.amount:
            costs = [e for e in evidence if e.zero or e.cost]
            if costs and all(e.zero and not e.amount for e in costs):
                return True  # a fee where the evidence says it is free
        return False


def evidence_sentences(passages: Sequence[str]) -> list[str]:
    """The sentences of ``passages``, in order."""
    return [s for p in passages for s in split_claims(p)]


def fact_conflicts(sentence: str, evidence: Sequence[str]) -> list[str]:
    """Reasons like ``"number:5 days"``, ``"amount:€10"``, ``"negation"``, ``"polarity"`` when
    the sentence's quantities are not in (or disagree with) the evidence passages, or its
    negation or yes/no disagrees with the evidence it matches best."""
    return FactIndex(evidence_sentences(evidence)).conflicts(sentence)
