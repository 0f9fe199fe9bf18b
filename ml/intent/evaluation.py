"""Classification metrics on label strings (no scikit-learn needed)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Unweighted mean of per-label F1 over the labels present in ``gold``."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted must align")
    scores = []
    for label in sorted(set(gold)):
        tp = sum(g == label and p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted, strict=True))
        denom = 2 * tp + fp + fn
        scores.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def top_label_ece(confidence: Sequence[float], correct: Sequence[bool], n_bins: int = 15) -> float:
    """Expected calibration error from top-label confidences and correctness."""
    conf = np.asarray(confidence, dtype=float)
    ok = np.asarray(correct, dtype=float)
    if conf.size == 0:
        return 0.0
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            total += abs(ok[mask].mean() - conf[mask].mean()) * mask.mean()
    return float(total)
