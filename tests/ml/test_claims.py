"""Splitting answers into claims, at once and while streaming."""

from __future__ import annotations

import time

import pytest

from ml.generation.claims import (
    HARD_CLAIM_CHARS,
    MAX_CLAIM_CHARS,
    SentenceBuffer,
    claim_text,
    split_claims,
)

pytestmark = pytest.mark.unit

ANSWER = (
    "Standard delivery takes 5-7 working days [1]. A replacement costs £1.50, e.g. for Mr. "
    "Smith's card. See https://help.lumenbank.example/faq/card-arrival. Done! [2] Is that all?\n"
    "- Freeze the card\n- Order a new one\n1. First step. 2. Second step.\n\nThe end"
)
EXPECTED = [
    "Standard delivery takes 5-7 working days [1].",
    "A replacement costs £1.50, e.g. for Mr. Smith's card.",
    "See https://help.lumenbank.example/faq/card-arrival.",
    "Done! [2]",
    "Is that all?",
    "Freeze the card",
    "Order a new one",
    "First step.",
    "Second step.",
    "The end",
]


def _stream(text: str, size: int) -> tuple[list[str], str]:
    buffer = SentenceBuffer()
    out: list[str] = []
    for start in range(0, len(text), size):
        out.extend(buffer.feed(text[start : start + size]))
    return out, buffer.flush()


def test_split_keeps_numbers_abbreviations_urls_and_citations_together() -> None:
    assert split_claims(ANSWER) == EXPECTED


def test_other_endings() -> None:
    assert split_claims("It works.[1] Next one.") == ["It works.[1]", "Next one."]
    assert split_claims('He said "stop." Then left.') == ['He said "stop."', "Then left."]
    assert split_claims("Wait... Really?! Yes.") == ["Wait...", "Really?!", "Yes."]
    assert split_claims("Not [a citation] here. Next.") == ["Not [a citation] here.", "Next."]
    assert split_claims("Costs 0.5%. then lower case goes on.") == [
        "Costs 0.5%. then lower case goes on."
    ]
    assert split_claims("") == [] and split_claims("  \n\n ") == []


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
def test_streaming_gives_the_same_sentences_and_loses_nothing(size: int) -> None:
    pieces, rest = _stream(ANSWER, size)
    assert "".join(pieces) + rest == ANSWER
    assert [c for c in map(claim_text, [*pieces, rest]) if c] == EXPECTED


def test_nothing_is_released_before_its_sentence_is_complete() -> None:
    buffer = SentenceBuffer()
    assert buffer.feed("Standard delivery takes 5-7 working days") == []
    assert buffer.feed(".") == []  # "." may still be "5.5" or followed by a citation
    assert buffer.feed(" ") == []
    assert buffer.feed("[1") == []  # the citation goes with the sentence
    assert buffer.feed("]") == []
    assert buffer.feed(" T") == ["Standard delivery takes 5-7 working days. [1] "]
    assert buffer.feed("racking is in the app") == []
    assert buffer.flush() == "Tracking is in the app"
    assert buffer.flush() == ""


def test_citation_before_the_full_stop_waits_for_it() -> None:
    buffer = SentenceBuffer()
    assert buffer.feed("It takes 5 days [1]") == []
    assert buffer.feed(". ") == []
    assert buffer.feed("Then") == ["It takes 5 days [1]. "]


def test_line_break_ends_a_sentence_without_punctuation() -> None:
    buffer = SentenceBuffer()
    assert buffer.feed("Steps:\n") == []
    assert buffer.feed("- Freeze") == ["Steps:\n"]


def test_long_sentences_are_released_at_a_word_boundary() -> None:
    text = "word " * 300
    claims = split_claims(text)
    assert len(claims) > 1
    assert all(len(c) <= MAX_CLAIM_CHARS for c in claims)
    assert " ".join(claims).split() == text.split()
    assert all(len(c) <= HARD_CLAIM_CHARS for c in split_claims("x" * 5000))
    pieces, rest = _stream(text, 5)
    assert len(pieces) > 1 and "".join(pieces) + rest == text


@pytest.mark.parametrize(
    "hostile", [". " * 50_000, "[1" * 50_000, "1." * 50_000, ".\n" * 50_000, "a" * 100_000]
)
def test_hostile_text_is_split_in_linear_time(hostile: str) -> None:
    start = time.perf_counter()
    claims = split_claims(hostile)
    pieces, rest = _stream(hostile, 13)
    assert time.perf_counter() - start < 5.0  # quadratic work would take minutes
    assert "".join(pieces) + rest == hostile
    assert all(len(c) <= HARD_CLAIM_CHARS for c in claims)


def test_claim_text_strips_bullets_and_numbers() -> None:
    assert claim_text("  - Freeze it.\n") == "Freeze it."
    assert claim_text("2) Order one. ") == "Order one."
    assert claim_text("5-7 working days.") == "5-7 working days."
