"""Degenerate output: a generator stuck in a loop ("You can't get a new card, so you can't get a
new card, so ...") is stopped as soon as the loop shows, instead of running to ``max_tokens``.

:class:`RepetitionDetector` is fed the raw text pieces as they stream in and says when the text
loops: the same 3-6 word sequence occurs ``repeats`` times within the last ``window`` words, or a
sentence of at least ``sentence_min_words`` words comes again verbatim (among the last
``max_sentences`` sentences). Words are compared lowercased, punctuation aside. Each word costs
a bounded amount of work and the memory is bounded by the window, whatever the stream's length.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

# a word (letters/digits, inner apostrophes) or a sentence end; linear, no backtracking
_TOKEN_RE = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*|[.!?]")
_APOSTROPHES = "'\u2019"
_ENDS = frozenset(".!?")
_MAX_WORD_CHARS = 64  # a "word" longer than this (no blank in sight) is cut: memory stays bounded


@dataclass(frozen=True)
class Loop:
    """What repeated: ``kind`` is ``ngram`` or ``sentence``; ``text`` the repeated words."""

    kind: str
    text: str
    count: int
    at_word: int  # how many words had arrived when the loop was seen

    def trace(self) -> dict[str, Any]:
        """The loop as a trace dict."""
        return {"kind": self.kind, "text": self.text, "count": self.count, "at_word": self.at_word}


class RepetitionDetector:
    """Feed text pieces with :meth:`feed`; it returns True once the text loops (and stays so)."""

    def __init__(
        self,
        *,
        min_n: int = 3,
        max_n: int = 6,
        repeats: int = 3,
        window: int = 48,
        sentence_min_words: int = 4,
        max_sentences: int = 32,
    ) -> None:
        if not 1 <= min_n <= max_n:
            raise ValueError("need 1 <= min_n <= max_n")
        if repeats < 2 or window < max_n or sentence_min_words < 1 or max_sentences < 1:
            raise ValueError("repeats >= 2, window >= max_n, sentence limits >= 1")
        self._sizes = range(min_n, max_n + 1)
        self._repeats = repeats
        self._window = window
        self._sentence_min = sentence_min_words
        self._partial = ""  # the end of the text so far, maybe a word still being written
        self._words = 0
        self._recent: deque[str] = deque(maxlen=max_n)
        # n-grams that end inside the window: (last word, gram), oldest first, and their counts
        self._grams: deque[tuple[int, tuple[str, ...]]] = deque()
        self._counts: Counter[tuple[str, ...]] = Counter()
        self._sentence: list[str] = []
        self._sentences: deque[tuple[str, ...]] = deque(maxlen=max_sentences)
        self.loop: Loop | None = None

    @property
    def looping(self) -> bool:
        """Whether a loop was seen."""
        return self.loop is not None

    @property
    def words(self) -> int:
        """Words seen so far."""
        return self._words

    def feed(self, piece: str) -> bool:
        """Add a piece of the text; True once the text loops."""
        if self.loop is not None:
            return True
        text = self._partial + piece
        self._partial = ""
        # a word at the very end (maybe followed by an apostrophe: "can'") may go on
        open_end = len(text.rstrip(_APOSTROPHES))
        for match in _TOKEN_RE.finditer(text):
            item = match.group(0)
            if match.end() == open_end and item not in _ENDS:
                # held for the next piece; a run-on "word" is cut to stay bounded
                held = text[match.start() :]
                if len(held) < _MAX_WORD_CHARS:
                    self._partial = held
                    break
                item = item[:_MAX_WORD_CHARS]
            if self._token(item):
                return True
        return False

    def flush(self) -> bool:
        """At the end of the stream: the last word counts too; True if the text loops."""
        partial, self._partial = self._partial, ""
        for match in _TOKEN_RE.finditer(partial):
            if self.loop is None:
                self._token(match.group(0))
        if self.loop is None and self._sentence:
            self._end_sentence()
        return self.looping

    def _token(self, item: str) -> bool:
        if item in _ENDS:
            return self._end_sentence()
        word = item.lower().replace("\u2019", "'")
        index = self._words
        self._words += 1
        self._recent.append(word)
        if len(self._sentence) < 200:
            self._sentence.append(word)
        while self._grams and self._grams[0][0] <= index - self._window:
            _, old = self._grams.popleft()
            self._counts[old] -= 1
            if not self._counts[old]:
                del self._counts[old]
        recent = tuple(self._recent)
        for n in self._sizes:
            if n > len(recent):
                break
            gram = recent[-n:]
            self._grams.append((index, gram))
            self._counts[gram] += 1
            if self._counts[gram] >= self._repeats:
                self.loop = Loop("ngram", " ".join(gram), self._counts[gram], self._words)
                return True
        return False

    def _end_sentence(self) -> bool:
        sentence, self._sentence = tuple(self._sentence), []
        if len(sentence) < self._sentence_min:
            return False
        if sentence in self._sentences:
            self.loop = Loop("sentence", " ".join(sentence), 2, self._words)
            return True
        self._sentences.append(sentence)
        return False

    def trace(self) -> dict[str, Any]:
        """Whether the text looped, what repeated, and after how many words."""
        return {"looping": self.looping, "words": self._words} | (
            {"loop": self.loop.trace()} if self.loop else {}
        )
