"""Splitting an answer into sentences (claims), all at once or while it streams.

One character-level state machine serves both :func:`split_claims` and :class:`SentenceBuffer`,
so a streamed answer is cut exactly where the whole answer would be. It runs in linear time on
hostile text (no backtracking regex) and bounds a sentence: one that grows past
``MAX_CLAIM_CHARS`` without ending is released at the next space anyway (and at
``HARD_CLAIM_CHARS`` even without a space), so the check never waits on an endless sentence.

A sentence ends at ``.``, ``!`` or ``?`` followed by white space (closing quotes and brackets
and a citation such as `` [1]`` or ``[1][2]`` stay with it), at a line break, or at a list bullet
on a new line. Not ends: decimals and ranges (``£1.50``, ``5-7``), URLs, abbreviations
(``e.g.``, ``i.e.``, ``Mr.``), a list number (``1.``) and a terminator followed by a lower-case
word.
"""

from __future__ import annotations

import re

MAX_CLAIM_CHARS = 400
HARD_CLAIM_CHARS = 800
_TERMINATORS = frozenset(".!?")
_CLOSERS = frozenset("\"')\u201d\u2019")
_CITATION_CHARS = frozenset("0123456789, ")
_MAX_CITATION = 16  # "[12, 13, 14]" and the like; anything longer is not a citation
_ABBREVIATIONS = frozenset(
    ("e.g", "i.e", "eg", "ie", "mr", "mrs", "ms", "dr", "st", "vs", "approx", "incl", "esp", "cf")
)
# A bullet or list number at the start of a claim (anchored, bounded: linear).
_BULLET = re.compile(r"^\s*(?:[-*\u2022\u00b7]|\d{1,2}[.)])\s+")

_IN, _TERM, _TRAIL, _CITE = range(4)


class SentenceBuffer:
    """Accumulates streamed text and releases each sentence once it is complete.

    A sentence is complete when the first character of the next one has arrived (so the white
    space that follows it, and a citation after its full stop, are released with it).
    Concatenating everything :meth:`feed` returned and then :meth:`flush` reproduces the input.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._chars: list[str] = []  # the pending sentence
        self._state = _IN
        self._kind = ""  # what ended the pending sentence: "punct", "line" or "cap"
        self._letters = False  # the pending sentence has a letter (a list number has none)
        self._content = False  # ... has anything but white space
        self._word_start = 0  # index in _chars where the current word starts
        self._cite_start = 0  # index in _chars of a "[" that may open a citation

    def feed(self, piece: str) -> list[str]:
        """Sentences completed by ``piece``, each with the white space that followed it."""
        out: list[str] = []
        for char in piece:
            self._step(char, out)
        return out

    def flush(self) -> str:
        """The unfinished rest at the end of the stream ("" if none); resets the buffer."""
        rest = "".join(self._chars)
        self._reset()
        return rest

    def _release(self, out: list[str], upto: int) -> None:
        out.append("".join(self._chars[:upto]))
        rest = self._chars[upto:]
        self._reset()
        for char in rest:  # the text after the cut (a "[" that was not a citation)
            self._step(char, out)

    def _step(self, char: str, out: list[str]) -> None:
        if self._state != _IN and len(self._chars) >= HARD_CLAIM_CHARS:
            self._release(out, len(self._chars))  # endless white space or closers
        if self._state == _IN:
            self._in(char, out)
        elif self._state == _TERM:
            self._term(char, out)
        elif self._state == _TRAIL:
            self._trail(char, out)
        else:
            self._cite(char, out)

    def _in(self, char: str, out: list[str]) -> None:
        chars = self._chars
        chars.append(char)
        if len(chars) >= HARD_CLAIM_CHARS:
            self._release(out, len(chars))
        elif char.isspace():
            self._word_start = len(chars)
            if not self._content:
                return
            if char == "\n":
                self._state, self._kind = _TRAIL, "line"
            elif len(chars) >= MAX_CLAIM_CHARS:
                self._state, self._kind = _TRAIL, "cap"
        else:
            self._content = True
            if char.isalpha():
                self._letters = True
            elif char in _TERMINATORS and self._letters and not self._abbreviation():
                self._state = _TERM

    def _abbreviation(self) -> bool:
        if len(self._chars) - self._word_start > 8:
            return False
        word = "".join(self._chars[self._word_start : -1]).lower().lstrip("([\"'")
        return word in _ABBREVIATIONS

    def _term(self, char: str, out: list[str]) -> None:
        if char in _TERMINATORS or char in _CLOSERS:
            self._chars.append(char)
        elif char.isspace():
            self._chars.append(char)
            self._word_start = len(self._chars)
            self._state, self._kind = _TRAIL, "punct"
        elif char == "[":
            self._open_citation(char)
        else:  # "1.50", "help.lumenbank.example": not an end
            self._state = _IN
            self._in(char, out)

    def _open_citation(self, char: str) -> None:
        self._cite_start = len(self._chars)
        self._chars.append(char)
        self._state = _CITE

    def _trail(self, char: str, out: list[str]) -> None:
        if char.isspace():
            self._chars.append(char)
            self._word_start = len(self._chars)
        elif char == "[" and self._kind == "punct":
            self._open_citation(char)
        elif self._kind == "punct" and char.islower():  # "e.g. the", "approx. ten": no end
            self._state = _IN
            self._in(char, out)
        else:
            self._release(out, len(self._chars))
            self._in(char, out)

    def _cite(self, char: str, out: list[str]) -> None:
        size = len(self._chars) - self._cite_start
        if char == "]" and size > 1:
            self._chars.append(char)
            self._state = _TRAIL
        elif char in _CITATION_CHARS and size < _MAX_CITATION:
            self._chars.append(char)
        else:  # not a citation: the sentence ended before the "["
            self._chars.append(char)
            self._release(out, self._cite_start)


def claim_text(piece: str) -> str:
    """A released piece as a claim: stripped, without a leading bullet or list number."""
    return _BULLET.sub("", piece, count=1).strip()


def split_claims(text: str) -> list[str]:
    """Sentences of an answer (claims), in order, stripped, empty ones dropped."""
    buffer = SentenceBuffer()
    pieces = [*buffer.feed(text), buffer.flush()]
    return [claim for claim in map(claim_text, pieces) if claim]
