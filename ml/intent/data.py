"""Checks on a labelled intent dataset before training: clean, deduplicate, report, split, weigh.

``clean_examples`` reads its rows once, so a large export can be streamed from disk; what it keeps
(the training set) is held in memory. The report says what was dropped and why, so an admin can
fix the data instead of guessing why a model is poor.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

_MAX_CONFLICT_SAMPLES = 20
_SMALL_CLASS = 5  # fewer examples than this gets a warning: too few to learn or to validate
_IMBALANCE_RATIO = 20.0
_MAX_NAMES = 10  # class names listed in one warning or error message


class DatasetError(ValueError):
    """The cleaned dataset cannot train a classifier; the message says why and what to fix."""


@dataclass
class DatasetReport:
    """What ``clean_examples`` kept, dropped and noticed."""

    n_rows: int = 0
    n_used: int = 0
    n_classes: int = 0
    class_counts: dict[str, int] = field(default_factory=dict)
    empty_texts: int = 0
    empty_labels: int = 0
    duplicates: int = 0  # same normalised text and label as an earlier row: dropped
    conflict_count: int = 0  # distinct texts seen with several labels: dropped entirely
    conflicts: list[tuple[str, list[str]]] = field(default_factory=list)  # first 20 of them
    unknown_labels: dict[str, int] = field(default_factory=dict)
    truncated: int = 0
    warnings: list[str] = field(default_factory=list)


def _as_text(value: object) -> str:
    """Best-effort string: None and NaN (pandas' empty cell) become "", bytes are decoded."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))  # a label column read as floats: 3.0 means "3"
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)


def _normalise(value: object) -> str:
    # NFC so visually identical strings compare equal; split/join collapses every whitespace run
    # (tabs, newlines, non-breaking spaces) into one space.
    return " ".join(unicodedata.normalize("NFC", _as_text(value)).split())


def _truncate(text: str, max_chars: int) -> str:
    # Cut at a word boundary when one is reasonably close, as the chunker does.
    cut = text.rfind(" ", 0, max_chars + 1)
    return text[: cut if cut > max_chars // 2 else max_chars].rstrip()


def _names(counts: Iterable[tuple[str, int]]) -> str:
    items = list(counts)
    shown = ", ".join(f"{name!r} ({n})" for name, n in items[:_MAX_NAMES])
    return shown + (f" and {len(items) - _MAX_NAMES} more" if len(items) > _MAX_NAMES else "")


def clean_examples(
    rows: Iterable[tuple[str, str]],
    *,
    allowed_labels: Collection[str] | None = None,
    max_chars: int = 2000,
) -> tuple[list[str], list[str], DatasetReport]:
    """Clean ``(text, label)`` rows in a single pass; return kept texts, labels and a report.

    Whitespace is normalised; rows with an empty text or label are dropped; texts longer than
    ``max_chars`` are cut (at a word boundary when possible). Texts are compared casefolded and
    NFKC-normalised: a repeat with the same label is dropped as a duplicate, and a text seen with
    several labels is dropped entirely (the model cannot learn both). With ``allowed_labels``,
    rows with other labels are dropped and counted. Non-string values are converted safely.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be >= 1")
    allowed = None if allowed_labels is None else {_normalise(lab) for lab in allowed_labels}
    report = DatasetReport()
    texts: list[str] = []
    labels: list[str] = []
    first: dict[str, int] = {}  # dedup key -> position of its first kept row
    conflicting: dict[str, set[str]] = {}  # dedup key -> every label seen with it
    unknown: Counter[str] = Counter()
    for i, row in enumerate(rows):
        report.n_rows += 1
        try:
            raw_text, raw_label = row
        except (TypeError, ValueError):
            raise DatasetError(f"row {i}: expected a (text, label) pair, got {row!r:.80}") from None
        text, label = _normalise(raw_text), _normalise(raw_label)
        if not text:
            report.empty_texts += 1
            continue
        if not label:
            report.empty_labels += 1
            continue
        if allowed is not None and label not in allowed:
            unknown[label] += 1
            continue
        if len(text) > max_chars:
            text = _truncate(text, max_chars)
            report.truncated += 1
        key = unicodedata.normalize("NFKC", text).casefold()
        if key in conflicting:
            conflicting[key].add(label)
        elif key not in first:
            first[key] = len(texts)
            texts.append(text)
            labels.append(label)
        elif labels[first[key]] == label:
            report.duplicates += 1
        else:
            conflicting[key] = {labels[first[key]], label}
    if conflicting:
        # Conflicts are only known at the end, so drop their first occurrences in one sweep.
        drop = {first[key] for key in conflicting}
        report.conflict_count = len(conflicting)
        report.conflicts = [
            (texts[first[key]], sorted(labs))
            for key, labs in list(conflicting.items())[:_MAX_CONFLICT_SAMPLES]
        ]
        kept = [j for j in range(len(texts)) if j not in drop]
        texts = [texts[j] for j in kept]
        labels = [labels[j] for j in kept]
    counts = Counter(labels)
    report.class_counts = dict(sorted(counts.items()))
    report.n_used = len(texts)
    report.n_classes = len(counts)
    report.unknown_labels = dict(unknown.most_common())
    report.warnings = _warnings(report, allowed, max_chars)
    return texts, labels, report


def _warnings(report: DatasetReport, allowed: set[str] | None, max_chars: int) -> list[str]:
    out: list[str] = []
    counts = report.class_counts
    small = [(c, n) for c, n in counts.items() if n < _SMALL_CLASS]
    if small:
        out.append(f"classes with fewer than {_SMALL_CLASS} examples: {_names(small)}")
    if len(counts) >= 2:
        ratio = max(counts.values()) / min(counts.values())
        if ratio > _IMBALANCE_RATIO:
            out.append(f"strong class imbalance: largest/smallest class = {ratio:.0f}")
    if report.truncated:
        out.append(f"{report.truncated} texts longer than {max_chars} characters were truncated")
    if report.conflict_count:
        out.append(f"{report.conflict_count} texts had conflicting labels and were dropped")
    if report.unknown_labels:
        out.append(f"rows with unknown labels dropped: {_names(report.unknown_labels.items())}")
    if allowed is not None:
        missing = sorted(allowed - counts.keys())
        if missing:
            out.append(f"allowed labels without examples: {_names((m, 0) for m in missing)}")
    return out


def require_trainable(
    report: DatasetReport, *, min_classes: int = 2, min_per_class: int = 2
) -> None:
    """Raise ``DatasetError`` unless the cleaned data has enough classes and examples per class."""
    if report.n_used == 0:
        raise DatasetError(
            f"no usable rows left: {report.n_rows} read, {report.empty_texts} empty, "
            f"{report.empty_labels} without label, {report.duplicates} duplicates, "
            f"{report.conflict_count} conflicting texts, "
            f"{sum(report.unknown_labels.values())} with unknown labels"
        )
    if report.n_classes < min_classes:
        found = ", ".join(repr(c) for c in report.class_counts) or "none"
        raise DatasetError(
            f"need at least {min_classes} intents to train a classifier, found "
            f"{report.n_classes} ({found}); add examples for other intents"
        )
    tiny = [(c, n) for c, n in report.class_counts.items() if n < min_per_class]
    if tiny:
        raise DatasetError(
            f"every intent needs at least {min_per_class} examples; too few: {_names(tiny)}. "
            "Add examples or merge these intents into others"
        )


def stratified_split(
    labels: Sequence[str],
    *,
    val_fraction: float = 0.15,
    seed: int = 13,
    min_val_per_class: int = 1,
) -> tuple[list[int], list[int]]:
    """Split indices into (train, val), each sorted, keeping class proportions.

    Each class sends ``round(n * val_fraction)`` examples, but at least ``min_val_per_class``, to
    validation while always keeping one in train; a class with a single example stays in train.
    Deterministic for a given ``seed`` and label multiset order.
    """
    if not 0 < val_fraction < 1:
        raise ValueError("val_fraction must be in (0, 1)")
    if min_val_per_class < 0:
        raise ValueError("min_val_per_class must be >= 0")
    by_class: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    rng = np.random.default_rng(seed)
    train: list[int] = []
    val: list[int] = []
    # Sorted class order so the random stream per class doesn't depend on which class came first.
    for label in sorted(by_class):
        idx = by_class[label]
        n = len(idx)
        wanted = max(min_val_per_class, math.floor(n * val_fraction + 0.5))
        n_val = 0 if n < 2 else min(n - 1, wanted)
        perm = rng.permutation(n)
        val.extend(idx[j] for j in perm[:n_val])
        train.extend(idx[j] for j in perm[n_val:])
    return sorted(train), sorted(val)


def class_weights(labels: Sequence[str], classes: Sequence[str]) -> npt.NDArray[np.float64]:
    """Per-class loss weights in ``classes`` order: inverse frequency, normalised to mean 1.

    Raises ``ValueError`` for a label outside ``classes`` or a class without examples (its weight
    would be infinite; that is a data problem ``require_trainable`` should have caught).
    """
    if len(set(classes)) != len(classes) or not classes:
        raise ValueError("classes must be non-empty and unique")
    counts = Counter(labels)
    unknown = set(counts) - set(classes)
    if unknown:
        raise ValueError(f"labels not in classes: {sorted(unknown)[:_MAX_NAMES]}")
    missing = [c for c in classes if counts[c] == 0]
    if missing:
        raise ValueError(f"classes without examples: {missing[:_MAX_NAMES]}")
    inverse = 1.0 / np.array([counts[c] for c in classes], dtype=np.float64)
    weights: npt.NDArray[np.float64] = inverse / inverse.mean()
    return weights
