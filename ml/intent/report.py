"""The evaluation report of an intent model on labelled data: accuracy, macro-F1, per-intent
precision/recall/F1, the confusion pairs most often mixed up, calibration (ECE and a reliability
diagram as PNG) and out-of-scope precision/recall.

Gold labels the model does not know, and the out-of-scope label, count as out of scope; a
prediction counts as out of scope when the predictor flagged it (OOS class or below threshold).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml.intent.evaluation import macro_f1
from ml.interfaces import IntentPrediction

OOS = "out_of_scope"
N_BINS = 15


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def _reliability(conf: np.ndarray, correct: np.ndarray) -> tuple[float, list[dict[str, float]]]:
    idx = np.clip(np.ceil(conf * N_BINS).astype(np.int64) - 1, 0, N_BINS - 1)
    bins, ece = [], 0.0
    for b in range(N_BINS):
        mask = idx == b
        n = int(mask.sum())
        acc = float(correct[mask].mean()) if n else 0.0
        mean_conf = float(conf[mask].mean()) if n else 0.0
        ece += n / max(len(conf), 1) * abs(acc - mean_conf)
        bins.append(
            {
                "upper": round((b + 1) / N_BINS, 4),
                "count": n,
                "accuracy": acc,
                "confidence": mean_conf,
            }
        )
    return ece, bins


def evaluation_report(
    gold: Sequence[str],
    predictions: Sequence[IntentPrediction],
    labels: Sequence[str],
    *,
    oos_label: str | None = OOS,
    top_confusions: int = 20,
) -> dict[str, Any]:
    """The report as a JSON-ready dict (see the module docstring for the conventions)."""
    if len(gold) != len(predictions):
        raise ValueError("gold and predictions must align")
    if not gold:
        raise ValueError("nothing to evaluate")
    known = set(labels) - {oos_label}
    oos = oos_label or OOS
    truth = [g if g in known else oos for g in gold]
    final = [oos if p.is_out_of_scope else p.intent for p in predictions]
    correct_final = np.array([t == f for t, f in zip(truth, final, strict=True)])
    per_intent = {}
    for label in sorted(set(truth) | set(final)):
        tp = sum(t == label and f == label for t, f in zip(truth, final, strict=True))
        fp = sum(t != label and f == label for t, f in zip(truth, final, strict=True))
        fn = sum(t == label and f != label for t, f in zip(truth, final, strict=True))
        per_intent[label] = {**_prf(tp, fp, fn), "support": sum(t == label for t in truth)}
    confusions = Counter((t, f) for t, f in zip(truth, final, strict=True) if t != f)
    in_scope = [i for i, t in enumerate(truth) if t != oos]
    # Calibration of the classifier itself: top-label confidence vs "top intent is right".
    conf = np.array([p.confidence for p in predictions], dtype=np.float64)
    top_right = np.array([p.intent == t for p, t in zip(predictions, truth, strict=True)])
    ece, bins = _reliability(conf, top_right)
    flagged = np.array([f == oos for f in final])
    is_oos = np.array([t == oos for t in truth])
    tp = int((flagged & is_oos).sum())
    return {
        "n": len(gold),
        "accuracy": round(float(correct_final.mean()), 4),
        "in_scope_accuracy": round(float(correct_final[in_scope].mean()), 4) if in_scope else None,
        "macro_f1": round(macro_f1(truth, final), 4),
        "ece": round(ece, 4),
        "out_of_scope": {
            **_prf(tp, int((flagged & ~is_oos).sum()), int((~flagged & is_oos).sum())),
            "support": int(is_oos.sum()),
            "flagged": int(flagged.sum()),
        },
        "per_intent": per_intent,
        "confusions": [
            {"gold": t, "predicted": f, "count": n}
            for (t, f), n in confusions.most_common(top_confusions)
        ],
        "reliability": bins,
    }


def reliability_png(report: dict[str, Any], path: Path, title: str = "Reliability") -> None:
    """Draw the report's reliability diagram (accuracy per confidence bin vs the diagonal)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = report["reliability"]
    width = 1.0 / len(bins)
    centers = [b["upper"] - width / 2 for b in bins]
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(5, 6), gridspec_kw={"height_ratios": [3, 1]}, sharex=True
    )
    top.bar(centers, [b["accuracy"] for b in bins], width=width * 0.9, label="accuracy")
    top.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect calibration")
    top.set_ylabel("accuracy")
    top.set_title(f"{title} (ECE {report['ece']:.3f}, n={report['n']})")
    top.legend(loc="upper left")
    bottom.bar(centers, [b["count"] for b in bins], width=width * 0.9, color="grey")
    bottom.set_xlabel("confidence")
    bottom.set_ylabel("count")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(report: dict[str, Any], folder: Path, title: str = "Reliability") -> None:
    """Write ``report.json`` and ``reliability.png`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report, indent=2))
    reliability_png(report, folder / "reliability.png", title)
