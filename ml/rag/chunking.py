"""Structure-aware chunking: split headed sections into overlapping passages at paragraph and
sentence boundaries, never mid-word, each passage keeping its heading path as context."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Sentence ends in Latin and CJK punctuation (full-width marks included on purpose).
_SENTENCE_END = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])\s+")


@dataclass(frozen=True)
class Passage:
    """A piece of a document with the headings it sits under."""

    heading_path: tuple[str, ...]
    text: str


def _units(text: str, max_chars: int) -> list[str]:
    """Paragraphs, then sentences for long paragraphs, then words for monster sentences."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        if not para:
            continue
        if len(para) <= max_chars:
            out.append(para)
            continue
        for sentence in _SENTENCE_END.split(para):
            sentence = sentence.strip()
            while len(sentence) > max_chars:
                cut = sentence.rfind(" ", 0, max_chars)
                cut = cut if cut > max_chars // 2 else max_chars
                out.append(sentence[:cut].strip())
                sentence = sentence[cut:].strip()
            if sentence:
                out.append(sentence)
    return out


def chunk_section(
    heading_path: Sequence[str], text: str, *, max_chars: int = 1200, overlap_chars: int = 200
) -> list[Passage]:
    """Split one section into passages of at most ``max_chars``; consecutive passages share up to
    ``overlap_chars`` of trailing units so an answer spanning a boundary is still found whole."""
    if max_chars < 100 or not 0 <= overlap_chars < max_chars // 2:
        raise ValueError("need max_chars >= 100 and 0 <= overlap_chars < max_chars / 2")
    path = tuple(h.strip() for h in heading_path if h and h.strip())
    units = _units(text, max_chars)
    passages: list[Passage] = []
    current: list[str] = []
    size = 0
    for unit in units:
        if current and size + len(unit) + 1 > max_chars:
            passages.append(Passage(path, "\n".join(current)))
            carry: list[str] = []
            carried = 0
            for prev in reversed(current):
                if carried + len(prev) + 1 > overlap_chars:
                    break
                carry.insert(0, prev)
                carried += len(prev) + 1
            current, size = carry, carried
        current.append(unit)
        size += len(unit) + 1
    if current:
        passages.append(Passage(path, "\n".join(current)))
    return passages


def chunk_sections(
    sections: Iterable[tuple[Sequence[str], str]],
    *,
    max_chars: int = 1200,
    overlap_chars: int = 200,
) -> list[Passage]:
    """Chunk every (heading path, text) section in order; empty sections are dropped."""
    out: list[Passage] = []
    for heading_path, text in sections:
        if text.strip():
            out.extend(
                chunk_section(heading_path, text, max_chars=max_chars, overlap_chars=overlap_chars)
            )
    return out
