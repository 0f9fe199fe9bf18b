"""Which passage an uncited answer came from, by word overlap (deterministic, no model).

Small models often copy or paraphrase a passage without writing ``[n]``. The answer then counts
as ungrounded (the model cited nothing), but the visitor can still be shown where its text came
from: each sentence is attributed to the passage that covers most of its content words, when
that passage covers at least ``min_coverage`` of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
# Function words carry no evidence of where a sentence came from.
_FUNCTION_WORDS = """
    a an the and or but if then so to of in on at by for with from as is are was were be been
    being it its this that these those you your yours we our us they their them he she his her i me
    my can could will would should may might must do does did not no yes have has had there here
    what which who when where why how all any some more most such than too very just also only into
    about over after before up down out off again please"""
STOPWORDS = frozenset(_FUNCTION_WORDS.split())


def content_words(text: str) -> set[str]:
    """Lower-cased words of ``text`` minus function words."""
    return {w for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1}


def attribute(
    answer: str, passages: Sequence[str], *, min_coverage: float = 0.5, min_words: int = 3
) -> list[int]:
    """Passage numbers (1-based, in order of first use) that the answer's sentences come from.

    A sentence with fewer than ``min_words`` content words is skipped (too little evidence).
    """
    vocab = [content_words(p) for p in passages]
    found: list[int] = []
    for sentence in _SENTENCE.split(answer):
        words = content_words(sentence)
        if len(words) < min_words:
            continue
        best, coverage = 0, 0.0
        for number, passage_words in enumerate(vocab, 1):
            share = len(words & passage_words) / len(words)
            if share > coverage:
                best, coverage = number, share
        if best and coverage >= min_coverage and best not in found:
            found.append(best)
    return found
