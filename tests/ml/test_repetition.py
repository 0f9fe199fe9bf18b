"""The repetition detector on fixed texts: loops of the kind small models fall into are caught
early, whatever the piece boundaries; ordinary answers (the demo FAQ's) are not."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ml.generation.repetition import RepetitionDetector

pytestmark = pytest.mark.unit
DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
LOOP = "You can't get a new card, so you can't get a new card, so " * 20


def feed_all(text: str, size: int, **kwargs: int) -> RepetitionDetector:
    detector = RepetitionDetector(**kwargs)
    for i in range(0, len(text), size):
        if detector.feed(text[i : i + size]):
            break
    detector.flush()
    return detector


@pytest.mark.parametrize("size", [1, 2, 5, 17, 10_000])
def test_a_phrase_loop_is_caught_within_three_repeats(size: int) -> None:
    detector = feed_all(LOOP, size)
    assert detector.loop is not None and detector.loop.kind == "ngram"
    assert detector.loop.count == 3 and "can't get" in detector.loop.text
    # the loop is 7 words long: seen before its third full repeat is over
    assert detector.loop.at_word <= 3 * 7
    assert detector.trace()["loop"]["text"] == detector.loop.text


def test_a_sentence_said_again_is_a_loop() -> None:
    text = (
        "Cards arrive within 5 working days. You can track yours in the app. "
        "Cards arrive within 5 working days."
    )
    detector = feed_all(text, 4)
    assert detector.loop is not None and detector.loop.kind == "sentence"
    assert detector.loop.text == "cards arrive within 5 working days"


def test_case_punctuation_and_curly_apostrophes_do_not_hide_a_loop() -> None:
    detector = feed_all("No refund, NO REFUND; no refund? No Refund — no refund!", 3, min_n=2)
    assert detector.looping
    assert feed_all("I can\u2019t pay. I can't pay. I can't pay. I can't pay.", 3).looping


def test_the_last_word_counts_only_once_complete() -> None:
    detector = RepetitionDetector(min_n=1, max_n=1, repeats=2, window=8)
    assert detector.feed("abc ab") is False  # "ab" may still become "abc"
    assert detector.feed("c") is False
    assert detector.flush() is True and detector.loop is not None
    assert detector.loop.text == "abc"


def test_repeats_far_apart_are_not_a_loop() -> None:
    filler = " ".join(f"word{i}" for i in range(60))
    text = f"you can ask {filler} you can ask {filler} you can ask"
    assert not feed_all(text, 7).looping
    assert feed_all(text, 7, window=200).looping


def test_ordinary_answers_are_not_loops() -> None:
    answers = [json.loads(line)["answer"] for line in (DEMO / "faq.jsonl").open()]
    for answer in answers:
        assert not feed_all(answer, 3).looping, answer
    assert not feed_all(" ".join(answers), 3).looping  # 77 answers in a row
    assert not feed_all((DEMO / "terms-and-fees.md").read_text(), 5).looping
    # short sentences may recur: "Yes." twice is not a loop
    assert not feed_all("Yes. It is free. Yes. Ask in the app.", 2).looping


def test_cost_is_linear_and_memory_bounded() -> None:
    words = " ".join(f"w{i}" for i in range(100_000))  # never loops
    detector = RepetitionDetector()
    started = time.perf_counter()
    for i in range(0, len(words), 40):
        detector.feed(words[i : i + 40])
    assert not detector.flush() and detector.words == 100_000
    assert time.perf_counter() - started < 5.0
    assert len(detector._grams) <= 48 * 4 and len(detector._counts) <= 48 * 4
    # one endless "word" never grows the held text past its cap
    detector = RepetitionDetector()
    for _ in range(1000):
        detector.feed("x" * 50)
    assert len(detector._partial) < 64


def test_bad_arguments() -> None:
    for kwargs in ({"min_n": 0}, {"min_n": 4, "max_n": 3}, {"repeats": 1}, {"window": 2}):
        with pytest.raises(ValueError):
            RepetitionDetector(**kwargs)


def test_apostrophes_at_a_piece_boundary_never_grow_the_held_text() -> None:
    detector = RepetitionDetector()
    detector.feed("you can")
    for _ in range(500):
        detector.feed("'")
    assert len(detector._partial) < 64
