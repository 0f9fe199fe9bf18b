"""A second opinion for the intent gate: a bigger encoder, consulted only when the fast model is
unsure.

The fast model (MiniLM, sharing retrieval's query vector) decides most messages in a few
milliseconds. Below ``below`` confidence, its verdict is replaced by that of a frozen-head model on
a larger encoder (all-mpnet-base-v2 by default: about 1.5 points more top-1 on real BANKING77
queries when both learn from the demo's written examples, but ~27 ms per message on one core), so
only the unsure share of messages pays for it. Both models train on the same split; the second
lives in the fast model's folder (``second_opinion/``) and the manifest's ``second_opinion``
section says when to consult it. :class:`~ml.intent.predictor.IntentPredictor` does the
consulting.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ml.embeddings.resolve import resolve_model_path
from ml.intent.artifact import FROZEN, SECOND_DIR, read_manifest, write_manifest
from ml.intent.data import stratified_split
from ml.intent.train import Progress, TrainConfig, TrainResult, train_intent_model

DEFAULT_MODEL = "all-mpnet-base-v2"
DEFAULT_BELOW = 0.9


@dataclass(frozen=True)
class SecondOpinionConfig:
    """Which encoder gives the second opinion, and below which fast-model confidence."""

    model: str = DEFAULT_MODEL
    below: float = DEFAULT_BELOW

    def __post_init__(self) -> None:
        if not self.model.strip():
            raise ValueError("second opinion: model must name a folder or a weights package")
        if not 0.0 < self.below <= 1.0:
            raise ValueError("second opinion: below must be in (0, 1]")


def cascade_metrics(
    first: np.ndarray, second: np.ndarray, truth: Sequence[int], below: float
) -> dict[str, float]:
    """Validation accuracy of each model and of the cascade (the second model's verdict where
    the first one's confidence is under ``below``), and the share of messages consulted."""
    y = np.asarray(truth)
    if not len(y):
        return {}
    consulted = first.max(1) < below
    final = np.where(consulted[:, None], second, first)
    return {
        "first_val_accuracy": float(np.mean(first.argmax(1) == y)),
        "second_val_accuracy": float(np.mean(second.argmax(1) == y)),
        "cascade_val_accuracy": float(np.mean(final.argmax(1) == y)),
        "second_consulted_share": float(np.mean(consulted)),
    }


def train_with_second_opinion(
    texts: Sequence[str],
    labels: Sequence[str],
    out_dir: Path,
    *,
    second: SecondOpinionConfig,
    config: TrainConfig | None = None,
    progress: Progress | None = None,
    data_hash: str = "",
) -> TrainResult:
    """Train the fast model (``config``) and its second opinion (a frozen head with an example
    memory on ``second.model``) on one split, staged aside and renamed to ``out_dir`` once both
    are saved: no partial artifact is ever left behind. The result is the fast model's, with the
    cascade's validation metrics added (``second_*``, ``cascade_val_accuracy``)."""
    config = config or TrainConfig()
    report = progress or (lambda _f, _m: None)
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists; choose a new folder")
    if len(texts) != len(labels) or not texts:
        raise ValueError("texts and labels must be non-empty and aligned")
    resolve_model_path(second.model)  # an unknown model fails before minutes of training
    train_idx, val_idx = stratified_split(
        list(labels), val_fraction=config.val_fraction, seed=config.seed
    )
    train = ([texts[i] for i in train_idx], [labels[i] for i in train_idx])
    val = ([texts[i] for i in val_idx], [labels[i] for i in val_idx])
    stage = out_dir.parent / f".stage-{out_dir.name}-{uuid.uuid4().hex[:8]}"
    stage.mkdir(parents=True)
    try:
        first = train_intent_model(
            *train,
            stage / out_dir.name,
            config=config,
            progress=lambda f, m: report(0.5 * f, m),
            data_hash=data_hash,
            validation=val,
        )
        helper = train_intent_model(
            *train,
            first.model_dir / SECOND_DIR,
            # fp32: int8 mpnet passed the parity check on written validation texts yet cost a
            # point of top-1 on real messages (BANKING77 test 0.838 -> 0.827)
            config=replace(config, base_model=second.model, strategy=FROZEN, onnx_int8=False),
            progress=lambda f, m: report(0.5 + 0.45 * f, f"second opinion: {m}"),
            data_hash=data_hash,
            validation=val,
        )
        if helper.labels != first.labels:  # both saw the same split: cannot happen
            raise ValueError("the second opinion learned other intents than the fast model")
        metrics = dict(first.metrics)
        if first.val_probs is not None and helper.val_probs is not None:
            truth = [first.labels.index(label) for label in val[1]]
            metrics.update(cascade_metrics(first.val_probs, helper.val_probs, truth, second.below))
        manifest = read_manifest(first.model_dir)
        manifest["second_opinion"] = {
            "folder": SECOND_DIR,
            "base_model": second.model,
            "below": second.below,
            "strategy": helper.strategy,
            "temperature": helper.temperature,
        }
        manifest["metrics"] = metrics
        write_manifest(first.model_dir, manifest)
        report(0.98, "moving into place")
        first.model_dir.rename(out_dir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    report(1.0, "done")
    return replace(
        first, model_dir=out_dir, metrics=metrics, train_s=first.train_s + helper.train_s
    )
