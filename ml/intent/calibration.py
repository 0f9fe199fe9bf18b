"""Confidence calibration and out-of-scope thresholds for the intent gate.

Temperature scaling (Guo et al. 2017) fixes a classifier's over- or under-confidence with one
scalar fitted on validation logits; top-label ECE and reliability bins measure how well that worked;
the threshold helpers then turn calibrated confidence into the "out of scope" decision
``top confidence < threshold``. Everything here is plain numpy, so it runs in tests and CI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class ReliabilityBin:
    """One equal-width confidence bin of a reliability diagram (empty bins have count 0 and
    accuracy = confidence = 0.0)."""

    lower: float
    upper: float
    count: int
    accuracy: float
    confidence: float


@dataclass(frozen=True)
class ThresholdChoice:
    """An out-of-scope threshold (flag when top confidence < threshold) and its validation scores.

    ``in_scope_rejected`` is the fraction of in-scope messages that would be flagged; ``method`` is
    ``"precision_target"``, ``"best_f1"`` (target unreachable) or ``"in_scope_quantile"`` (no
    out-of-scope examples to learn from).
    """

    threshold: float
    oos_precision: float
    oos_recall: float
    in_scope_rejected: float
    met_target: bool
    method: str


def _logits_and_labels(logits: npt.ArrayLike, labels: npt.ArrayLike) -> tuple[FloatArray, IntArray]:
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels)
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] < 2:
        raise ValueError(f"expected a (n_samples, n_classes >= 2) array, got shape {z.shape}")
    if y.shape != (z.shape[0],):
        raise ValueError(f"labels must have shape ({z.shape[0]},), got {y.shape}")
    # Float labels like 2.0 are tolerated; 2.5 is a bug upstream, not something to round.
    integral = y.dtype.kind in "iu" or (y.dtype.kind == "f" and bool(np.all(np.mod(y, 1) == 0)))
    if not integral:
        raise ValueError("labels must be integer class indices")
    y = y.astype(np.int64)
    if y.min() < 0 or y.max() >= z.shape[1]:
        raise ValueError(f"labels must index columns 0..{z.shape[1] - 1}")
    if not np.all(np.isfinite(z)):
        raise ValueError("logits/probabilities must be finite")
    return z, y


def _vector(values: npt.ArrayLike, name: str) -> npt.NDArray[np.generic]:
    arr: npt.NDArray[np.generic] = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    return arr


def _floats(values: npt.ArrayLike, name: str) -> FloatArray:
    return _vector(values, name).astype(np.float64)


def _bools(values: npt.ArrayLike, name: str) -> BoolArray:
    return _vector(values, name).astype(np.bool_)


def log_softmax(logits: npt.ArrayLike, temperature: float = 1.0) -> FloatArray:
    """Row-wise log softmax of ``logits / temperature``, stable for very large logits."""
    if not temperature > 0:
        raise ValueError("temperature must be positive")
    z = np.asarray(logits, dtype=np.float64) / temperature
    # Subtracting the row max keeps exp() from overflowing without changing the result.
    z = z - z.max(axis=-1, keepdims=True)
    out: FloatArray = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return out


def softmax(logits: npt.ArrayLike, temperature: float = 1.0) -> FloatArray:
    """Row-wise softmax of ``logits / temperature`` (probabilities summing to 1 per row)."""
    out: FloatArray = np.exp(log_softmax(logits, temperature))
    return out


def _nll(z: FloatArray, y: IntArray, temperature: float) -> float:
    return float(-log_softmax(z, temperature)[np.arange(len(y)), y].mean())


def _golden_min(f: Callable[[float], float], a: float, b: float, tol: float = 1e-7) -> float:
    """Minimiser of a unimodal ``f`` on [a, b] by golden-section search."""
    inv_phi = (np.sqrt(5.0) - 1) / 2
    c, d = b - inv_phi * (b - a), a + inv_phi * (b - a)
    fc, fd = f(c), f(d)
    while b - a > tol:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - inv_phi * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + inv_phi * (b - a)
            fd = f(d)
    return (a + b) / 2


def fit_temperature(
    logits: npt.ArrayLike, labels: npt.ArrayLike, *, bounds: tuple[float, float] = (0.05, 20.0)
) -> float:
    """Fit the temperature T minimising the NLL of ``softmax(logits / T)`` on validation data.

    T > 1 softens an over-confident model, T < 1 sharpens an under-confident one; the argmax never
    changes. The result is clipped to ``bounds`` (perfectly separated data would push T to 0).
    """
    z, y = _logits_and_labels(logits, labels)
    lo, hi = float(bounds[0]), float(bounds[1])
    if not 0 < lo < hi:
        raise ValueError("bounds must satisfy 0 < low < high")
    # Search log T: the NLL is far better conditioned there than in T. It is convex in 1/T, hence
    # unimodal in log T; a coarse grid finds the basin, golden-section search refines inside it.
    grid = np.linspace(np.log(lo), np.log(hi), 61)
    values = [_nll(z, y, float(np.exp(g))) for g in grid]
    i = int(np.argmin(values))
    a, b = float(grid[max(i - 1, 0)]), float(grid[min(i + 1, len(grid) - 1)])
    best = _golden_min(lambda g: _nll(z, y, float(np.exp(g))), a, b)
    if _nll(z, y, float(np.exp(best))) > values[i]:
        best = float(grid[i])
    return float(np.clip(np.exp(best), lo, hi))


def reliability_bins(
    probs: npt.ArrayLike, labels: npt.ArrayLike, n_bins: int = 15
) -> list[ReliabilityBin]:
    """Top-label reliability diagram data: ``n_bins`` equal-width bins over [0, 1] of the top
    confidence, each with its accuracy and mean confidence. Bins are (lower, upper], the first one
    also holding 0."""
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    p, y = _logits_and_labels(probs, labels)
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    idx = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins)
    acc_sum = np.bincount(idx, weights=correct, minlength=n_bins)
    conf_sum = np.bincount(idx, weights=conf, minlength=n_bins)
    bins = []
    for b in range(n_bins):
        n = int(counts[b])
        bins.append(
            ReliabilityBin(
                lower=b / n_bins,
                upper=(b + 1) / n_bins,
                count=n,
                accuracy=float(acc_sum[b] / n) if n else 0.0,
                confidence=float(conf_sum[b] / n) if n else 0.0,
            )
        )
    return bins


def expected_calibration_error(
    probs: npt.ArrayLike, labels: npt.ArrayLike, n_bins: int = 15
) -> float:
    """Top-label ECE: bin-size-weighted mean of |accuracy - confidence| over equal-width bins."""
    bins = reliability_bins(probs, labels, n_bins)
    total = sum(b.count for b in bins)
    return float(sum(b.count / total * abs(b.accuracy - b.confidence) for b in bins))


def oos_metrics(pred_oos: npt.ArrayLike, is_oos: npt.ArrayLike) -> dict[str, float]:
    """Precision, recall and F1 of the out-of-scope flag; each is 0.0 where undefined."""
    pred = _bools(pred_oos, "pred_oos")
    true = _bools(is_oos, "is_oos")
    if pred.shape != true.shape:
        raise ValueError("pred_oos and is_oos must have the same length")
    tp = int(np.sum(pred & true))
    n_pred, n_true = int(pred.sum()), int(true.sum())
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def choose_threshold(
    confidences: npt.ArrayLike,
    in_scope_correct: npt.ArrayLike,
    is_oos: npt.ArrayLike,
    *,
    target_precision: float = 0.9,
    max_in_scope_rejection: float = 0.05,
) -> ThresholdChoice:
    """Choose the out-of-scope threshold (flag when top confidence < threshold) on validation data.

    With out-of-scope examples: the threshold with the highest OOS recall whose OOS precision is at
    least ``target_precision`` (every flagged in-scope message is a false positive); among equal
    recalls the lowest threshold wins, since it rejects fewest in-scope messages. If no threshold
    reaches the target, the best-F1 one is returned with ``met_target=False``. Thresholds sit
    midway between adjacent distinct confidences so they do not hug a single validation point.

    Without out-of-scope examples: the highest threshold rejecting at most
    ``max_in_scope_rejection`` of the correct in-scope predictions (a quantile of their
    confidences); ``in_scope_correct`` only matters in this case.
    """
    conf = _floats(confidences, "confidences")
    correct = _bools(in_scope_correct, "in_scope_correct")
    oos = _bools(is_oos, "is_oos")
    if not len(conf) == len(correct) == len(oos):
        raise ValueError("confidences, in_scope_correct and is_oos must have the same length")
    if len(conf) == 0 or not np.all(np.isfinite(conf)):
        raise ValueError("need at least one finite confidence")
    if not 0 < target_precision <= 1:
        raise ValueError("target_precision must be in (0, 1]")
    if not 0 <= max_in_scope_rejection < 1:
        raise ValueError("max_in_scope_rejection must be in [0, 1)")
    n_in = int((~oos).sum())

    def scored(threshold: float, met: bool, method: str) -> ThresholdChoice:
        flagged = conf < threshold
        m = oos_metrics(flagged, oos)
        rejected = float(np.sum(flagged & ~oos) / n_in) if n_in else 0.0
        return ThresholdChoice(threshold, m["precision"], m["recall"], rejected, met, method)

    if not oos.any():
        good = np.sort(conf[correct])
        if len(good) == 0:
            raise ValueError("no out-of-scope examples and no correct in-scope predictions")
        # conf < good[k] flags at most k correct predictions (fewer when confidences tie).
        k = int(np.floor(max_in_scope_rejection * len(good)))
        return scored(float(good[k]), True, "in_scope_quantile")

    order = np.argsort(conf, kind="stable")
    sorted_conf, sorted_oos = conf[order], oos[order]
    values, starts = np.unique(sorted_conf, return_index=True)
    # Flagging every value up to values[g] flags the first ends[g] sorted examples.
    ends = np.append(starts[1:], len(conf))
    tp = np.cumsum(sorted_oos)[ends - 1].astype(np.float64)
    precision = tp / ends
    recall = tp / oos.sum()
    f1 = np.where(tp > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0.0)
    cuts = np.append((values[:-1] + values[1:]) / 2, np.nextafter(values[-1], np.inf))
    ok = np.flatnonzero(precision >= target_precision - 1e-12)
    if len(ok):
        # argmax returns the first (lowest-threshold) candidate among equal recalls.
        g = int(ok[np.argmax(recall[ok])])
        return scored(float(cuts[g]), True, "precision_target")
    return scored(float(cuts[int(np.argmax(f1))]), False, "best_f1")


def per_class_thresholds(
    confidences: npt.ArrayLike,
    predicted: npt.ArrayLike,
    labels_correct: npt.ArrayLike,
    *,
    global_threshold: float,
    min_support: int = 20,
    target_precision: float = 0.9,
    max_shift: float = 0.1,
) -> dict[int, float]:
    """Per predicted-class thresholds (flag when confidence < threshold), one per class seen in
    ``predicted``; use ``global_threshold`` for classes missing from the result.

    Rule, for a class with at least ``min_support`` validation predictions: the lowest threshold
    at which the predictions it accepts (confidence >= threshold) are at least
    ``target_precision`` correct, clipped to ``global_threshold +/- max_shift``. The clip stops a
    class that is easy in-scope from accepting out-of-scope messages the global threshold would
    catch. If no threshold reaches the target, the class gets the strictest allowed value,
    ``global_threshold + max_shift``. Classes with less support keep ``global_threshold``: their
    precision estimate is too noisy to trust. Including out-of-scope validation messages (as
    incorrect predictions) makes the rule account for them too.
    """
    conf = _floats(confidences, "confidences")
    pred = _vector(predicted, "predicted").astype(np.int64)
    correct = _bools(labels_correct, "labels_correct")
    if not len(conf) == len(pred) == len(correct):
        raise ValueError("confidences, predicted and labels_correct must have the same length")
    if min_support < 1 or max_shift < 0 or not 0 < target_precision <= 1:
        raise ValueError("need min_support >= 1, max_shift >= 0, 0 < target_precision <= 1")
    low, high = global_threshold - max_shift, global_threshold + max_shift
    out: dict[int, float] = {}
    for cls in np.unique(pred):
        mask = pred == cls
        if mask.sum() < min_support:
            out[int(cls)] = float(global_threshold)
            continue
        # Sorted by confidence descending, the accepted set at threshold conf[i] is the prefix up
        # to the last example tied with i; its precision is a running mean of correctness.
        c = conf[mask]
        order = np.argsort(-c, kind="stable")
        c_sorted, ok_sorted = c[order], correct[mask][order]
        precision = np.cumsum(ok_sorted) / np.arange(1, len(c) + 1)
        # Only positions ending a run of equal confidences are real thresholds.
        last_of_tie = np.append(c_sorted[1:] != c_sorted[:-1], True)
        meets = last_of_tie & (precision >= target_precision - 1e-12)
        if meets.any():
            lowest = float(c_sorted[np.flatnonzero(meets)[-1]])
            out[int(cls)] = float(np.clip(lowest, low, high))
        else:
            out[int(cls)] = float(high)
    return out
