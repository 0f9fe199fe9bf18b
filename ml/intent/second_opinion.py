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

The second opinion can also come later (:func:`add_second_opinion`): the fast model trains and
serves first (a minute), and a background job adds the second opinion (minutes of mpnet) as a
new version holding the same fast model, on the split the fast model used. The fast model keeps
its validation probabilities (:func:`keep_validation_probs`) so that the cascade's metrics are
the same as when both trained together.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from ml.embeddings.resolve import resolve_model_path
from ml.intent.artifact import FROZEN, SECOND_DIR, add_onnx, read_manifest, write_manifest
from ml.intent.data import stratified_split
from ml.intent.train import Progress, TrainConfig, TrainResult, train_intent_model

DEFAULT_MODEL = "all-mpnet-base-v2"
DEFAULT_BELOW = 0.9
# the fast model's calibrated validation probabilities (rows: validation split, columns: labels)
VAL_PROBS = Path("validation") / "probs.npy"


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
        metrics = _attach(
            first.model_dir, helper, first.labels, first.val_probs, val[1], second, first.metrics
        )
        report(0.98, "moving into place")
        first.model_dir.rename(out_dir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    report(1.0, "done")
    return replace(
        first, model_dir=out_dir, metrics=metrics, train_s=first.train_s + helper.train_s
    )


def _attach(
    model_dir: Path,
    helper: TrainResult,
    labels: list[str],
    first_probs: np.ndarray | None,
    val_labels: Sequence[str],
    second: SecondOpinionConfig,
    first_metrics: dict[str, float],
) -> dict[str, float]:
    """Name the trained ``helper`` (in ``model_dir/second_opinion``) in the fast model's
    manifest, with the cascade's validation metrics; returns the metrics."""
    if helper.labels != labels:  # both saw the same split: cannot happen
        raise ValueError("the second opinion learned other intents than the fast model")
    metrics = dict(first_metrics)
    if first_probs is not None and helper.val_probs is not None:
        truth = [labels.index(label) for label in val_labels]
        metrics.update(cascade_metrics(first_probs, helper.val_probs, truth, second.below))
    manifest = read_manifest(model_dir)
    manifest["second_opinion"] = {
        "folder": SECOND_DIR,
        "base_model": second.model,
        "below": second.below,
        "strategy": helper.strategy,
        "temperature": helper.temperature,
    }
    manifest["metrics"] = metrics
    write_manifest(model_dir, manifest)
    return metrics


def keep_validation_probs(result: TrainResult) -> None:
    """Store a fast model's validation probabilities in its folder (float16, a few hundred
    KB), so that :func:`add_second_opinion` can report the cascade's metrics later."""
    if result.val_probs is None:
        return
    path = result.model_dir / VAL_PROBS
    path.parent.mkdir(exist_ok=True)
    staged = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.npy")
    np.save(staged, result.val_probs.astype(np.float16))
    staged.replace(path)


def _config_of(manifest: dict[str, Any]) -> TrainConfig:
    """The training configuration a manifest recorded (unknown keys of other releases
    ignored, missing ones at their defaults)."""
    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in (manifest.get("config") or {}).items() if k in known})


def _link_tree(source: Path, target: Path) -> None:
    """Copy a model folder as hard links (no second copy on disk; nothing in a model folder
    is modified in place: manifests are replaced by rename), or as files across devices."""

    def link(src: str, dst: str) -> object:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
        return dst

    shutil.copytree(source, target, symlinks=True, copy_function=link)


def add_second_opinion(
    fast_dir: Path,
    texts: Sequence[str],
    labels: Sequence[str],
    out_dir: Path,
    *,
    second: SecondOpinionConfig,
    data_hash: str = "",
    progress: Progress | None = None,
) -> TrainResult:
    """A new model folder ``out_dir``: the fast model of ``fast_dir`` unchanged (hard-linked)
    with a second opinion trained on the split the fast model used, recomputed from ``texts``
    and ``labels`` (the examples it trained on, in the same order) and its recorded
    configuration. ``data_hash``, when given, must be the fast model's (the examples did not
    change since). Staged aside and renamed into place; the result is the fast model's with
    the cascade's metrics (those need the fast model's kept validation probabilities). A fast
    model trained without its ONNX graph (``export_onnx`` off) gets it here, parity-checked."""
    report = progress or (lambda _f, _m: None)
    fast_dir, out_dir = Path(fast_dir), Path(out_dir)
    manifest = read_manifest(fast_dir)
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists; choose a new folder")
    if manifest.get("second_opinion"):
        raise ValueError(f"{fast_dir.name} already has a second opinion")
    if data_hash and manifest.get("data_hash") and data_hash != manifest["data_hash"]:
        raise ValueError(f"the examples changed since {fast_dir.name} was trained")
    classes = list(manifest["labels"])
    if len(texts) != len(labels) or sorted(set(labels)) != classes:
        raise ValueError(f"these examples are not the ones {fast_dir.name} was trained on")
    resolve_model_path(second.model)  # an unknown model fails before minutes of training
    config = _config_of(manifest)
    train_idx, val_idx = stratified_split(
        list(labels), val_fraction=config.val_fraction, seed=config.seed
    )
    train = ([texts[i] for i in train_idx], [labels[i] for i in train_idx])
    val = ([texts[i] for i in val_idx], [labels[i] for i in val_idx])
    probs_file = fast_dir / VAL_PROBS
    first_probs = np.load(probs_file).astype(np.float32) if probs_file.exists() else None
    if first_probs is not None and first_probs.shape != (len(val_idx), len(classes)):
        first_probs = None  # kept by another split: no cascade metrics rather than wrong ones
    stage = out_dir.parent / f".stage-{out_dir.name}-{uuid.uuid4().hex[:8]}"
    stage.mkdir(parents=True)
    try:
        staged = stage / out_dir.name
        _link_tree(fast_dir, staged)
        if not manifest.get("onnx"):
            report(0.01, "exporting the fast model's ONNX graph")
            add_onnx(staged, val[0])  # the fast stage left it for now (a new manifest file)
        helper = train_intent_model(
            *train,
            staged / SECOND_DIR,
            config=replace(
                config, base_model=second.model, strategy=FROZEN, export_onnx=True, onnx_int8=False
            ),
            progress=lambda f, m: report(0.95 * f, f"second opinion: {m}"),
            data_hash=str(manifest.get("data_hash", data_hash)),
            validation=val,
        )
        first_metrics = {k: float(v) for k, v in (manifest.get("metrics") or {}).items()}
        metrics = _attach(staged, helper, classes, first_probs, val[1], second, first_metrics)
        renamed = read_manifest(staged)
        renamed["version"], renamed["extends"] = out_dir.name, fast_dir.name
        write_manifest(staged, renamed)
        report(0.98, "moving into place")
        staged.rename(out_dir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    report(1.0, "done")
    return TrainResult(
        out_dir,
        classes,
        float(manifest.get("temperature", 1.0)),
        float(manifest.get("threshold", 0.0)),
        metrics,
        int(manifest.get("epochs", 0)),
        float(manifest.get("train_s", 0.0)) + helper.train_s,
        strategy=str(manifest.get("strategy", FROZEN)),
    )
