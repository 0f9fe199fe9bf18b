"""Cleaning, validating, splitting and weighting intent training data."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest

from ml.intent.data import (
    DatasetError,
    DatasetReport,
    class_weights,
    clean_examples,
    require_trainable,
    stratified_split,
)

pytestmark = pytest.mark.unit


def test_whitespace_empties_and_duplicates() -> None:
    rows = [
        ("  Where is\tmy   card? ", "card_arrival"),
        ("where is my CARD?", "card_arrival"),  # duplicate after casefolding
        ("   ", "card_arrival"),
        ("", "fees"),
        ("How much is a transfer?", "fees"),
        ("Block my card", ""),
    ]
    texts, labels, report = clean_examples(rows)
    assert texts == ["Where is my card?", "How much is a transfer?"]
    assert labels == ["card_arrival", "fees"]
    assert report.n_rows == 6 and report.n_used == 2
    assert report.duplicates == 1 and report.empty_texts == 2 and report.empty_labels == 1
    assert report.class_counts == {"card_arrival": 1, "fees": 1}


def test_conflicting_texts_are_dropped_entirely() -> None:
    rows = [
        ("cancel it", "cancel_transfer"),
        ("Cancel it", "cancel_card"),
        ("cancel it", "cancel_transfer"),
        ("cancel it", "close_account"),
        ("other text", "fees"),
    ]
    texts, labels, report = clean_examples(rows)
    assert texts == ["other text"] and labels == ["fees"]
    assert report.conflict_count == 1
    assert report.conflicts == [("cancel it", ["cancel_card", "cancel_transfer", "close_account"])]
    assert any("conflicting" in w for w in report.warnings)


def test_conflict_samples_are_capped_but_counted() -> None:
    rows = [(f"text {i}", lab) for i in range(30) for lab in ("a", "b")]
    _, _, report = clean_examples(rows)
    assert report.conflict_count == 30 and len(report.conflicts) == 20 and report.n_used == 0


def test_unknown_labels_are_counted_and_dropped() -> None:
    rows = [("a", "fees"), ("b", "fess"), ("c", "fess"), ("d", "card")]
    texts, _, report = clean_examples(rows, allowed_labels=["fees", "card", "refund"])
    assert texts == ["a", "d"]
    assert report.unknown_labels == {"fess": 2}
    assert any("'refund'" in w for w in report.warnings)  # allowed but never seen


def test_long_texts_are_truncated_at_a_word_boundary_with_warning() -> None:
    long_text = "word " * 100
    texts, _, report = clean_examples([(long_text, "a"), ("short", "b")], max_chars=42)
    assert len(texts[0]) <= 42 and texts[0].endswith("word") and report.truncated == 1
    assert any("truncated" in w for w in report.warnings)
    # No space to cut at: a hard cut.
    texts, _, _ = clean_examples([("x" * 100, "a")], max_chars=10)
    assert texts == ["x" * 10]


def test_non_string_values_are_converted_safely() -> None:
    rows = [(None, "a"), (float("nan"), "a"), (b"caf\xc3\xa9 hours", 3.0), (42, 7), ("ok", None)]
    texts, labels, report = clean_examples(rows)  # type: ignore[arg-type]
    assert texts == ["café hours", "42"] and labels == ["3", "7"]
    assert report.empty_texts == 2 and report.empty_labels == 1


def test_malformed_row_raises_with_its_position() -> None:
    with pytest.raises(DatasetError, match="row 1"):
        clean_examples([("a", "b"), ("only text",)])  # type: ignore[list-item]


def test_single_pass_over_a_generator() -> None:
    consumed = []

    def gen() -> Iterator[tuple[str, str]]:
        for i in range(1000):
            consumed.append(i)
            yield f"text {i % 500}", f"label {i % 500 % 4}"

    texts, _, report = clean_examples(gen())
    assert len(consumed) == 1000 and len(texts) == 500 and report.duplicates == 500


def test_small_classes_and_imbalance_are_warned() -> None:
    rows = [(f"big {i}", "big") for i in range(100)] + [("tiny one", "tiny"), ("tiny two", "tiny")]
    _, _, report = clean_examples(rows)
    assert any("fewer than 5" in w and "'tiny' (2)" in w for w in report.warnings)
    assert any("imbalance" in w for w in report.warnings)
    _, _, balanced = clean_examples([(f"t{i}", "ab"[i % 2]) for i in range(20)])
    assert balanced.warnings == []


def test_require_trainable_messages() -> None:
    with pytest.raises(DatasetError, match="no usable rows"):
        require_trainable(clean_examples([("", "a")])[2])
    _, _, one = clean_examples([(f"t{i}", "greeting") for i in range(10)])
    with pytest.raises(DatasetError, match=r"at least 2 intents.*'greeting'"):
        require_trainable(one)
    rows = [(f"t{i}", "a") for i in range(10)] + [("x", "lonely"), ("y", "alone")]
    with pytest.raises(DatasetError, match=r"'alone' \(1\), 'lonely' \(1\)"):
        require_trainable(clean_examples(rows)[2])
    require_trainable(clean_examples(rows)[2], min_per_class=1)
    require_trainable(DatasetReport(n_rows=4, n_used=4, n_classes=2, class_counts={"a": 2, "b": 2}))


def _labels() -> list[str]:
    return ["a"] * 40 + ["b"] * 10 + ["c"] * 3 + ["d"] * 2 + ["e"] * 1


def test_stratified_split_is_complete_disjoint_and_stratified() -> None:
    labels = _labels()
    train, val = stratified_split(labels, val_fraction=0.2)
    assert sorted(train + val) == list(range(len(labels))) and not set(train) & set(val)
    val_counts = Counter(labels[i] for i in val)
    assert val_counts == {"a": 8, "b": 2, "c": 1, "d": 1}  # 'e' has one example: train only
    train_counts = Counter(labels[i] for i in train)
    assert all(train_counts[c] >= 1 for c in "abcde")


def test_stratified_split_is_deterministic_per_seed() -> None:
    labels = _labels()
    assert stratified_split(labels, seed=1) == stratified_split(labels, seed=1)
    assert stratified_split(labels, seed=1) != stratified_split(labels, seed=2)


def test_stratified_split_min_val_and_validation() -> None:
    train, val = stratified_split(["a"] * 4 + ["b"] * 4, val_fraction=0.1, min_val_per_class=3)
    assert len(val) == 6 and len(train) == 2  # 3 each, one kept in train
    with pytest.raises(ValueError):
        stratified_split(["a", "b"], val_fraction=1.0)


def test_class_weights_inverse_frequency_mean_one() -> None:
    w = class_weights(["a"] * 30 + ["b"] * 10 + ["c"] * 20, ["a", "b", "c"])
    assert w.mean() == pytest.approx(1.0)
    np.testing.assert_allclose(w / w[0], [1.0, 3.0, 1.5])
    np.testing.assert_allclose(class_weights(["x", "y"], ["x", "y"]), [1.0, 1.0])
    with pytest.raises(ValueError, match="without examples"):
        class_weights(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="not in classes"):
        class_weights(["a", "z"], ["a"])
