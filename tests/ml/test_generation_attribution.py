"""Attributing uncited answers to the passage they came from."""

from __future__ import annotations

import pytest

from ml.generation.attribution import attribute, content_words

pytestmark = pytest.mark.unit

PASSAGES = [
    "Standard delivery takes up to 7 working days. Track your card in the app under Cards.",
    "You can change your personal details in Profile > Personal details and upload a proof.",
    "Transfers abroad cost 0.5 % and arrive within two working days.",
]


def test_copied_and_paraphrased_sentences_find_their_passage() -> None:
    answer = (
        "You can change your personal details in Profile, then upload a proof of address. "
        "A transfer abroad costs 0.5 % and arrives in two working days."
    )
    assert attribute(answer, PASSAGES) == [2, 3]


def test_unrelated_or_tiny_answers_are_not_attributed() -> None:
    assert attribute("The weather in Paris is lovely this spring season.", PASSAGES) == []
    assert attribute("Yes.", PASSAGES) == []
    assert attribute("", PASSAGES) == []
    assert attribute("Standard delivery takes 7 days.", []) == []


def test_threshold_and_function_words() -> None:
    assert "the" not in content_words("The card is here")
    half = "Delivery of pizza takes thirty minutes downtown"  # 1 of 6 content words
    assert attribute(half, PASSAGES) == []
    assert attribute(half, PASSAGES, min_coverage=0.1) == [1]
