"""The full fine-tune path: ``AutoModelForSequenceClassification`` on the base encoder,
class-weighted cross-entropy, AdamW with weight decay (not on biases and LayerNorm), linear
warmup and decay, dynamic padding, gradient clipping, early stopping on validation accuracy
(the best epoch's weights are kept)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from transformers import get_linear_schedule_with_warmup

from ml.intent.batching import batched, encode, encoder_inputs

Progress = Callable[[float, str], None]


class SequenceLogits(torch.nn.Module):
    """Wraps a transformers sequence classifier so that ``forward`` returns the logits tensor
    (what ONNX export and serving expect)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits for a tokenised batch."""
        kwargs = encoder_inputs(input_ids, attention_mask, token_type_ids)
        logits: torch.Tensor = self.model(**kwargs).logits
        return logits


def batches(n: int, size: int, rng: random.Random | None) -> list[list[int]]:
    """Index batches of ``size`` over ``range(n)``, shuffled when ``rng`` is given."""
    order = list(range(n))
    if rng is not None:
        rng.shuffle(order)
    return [order[i : i + size] for i in range(0, n, size)]


def logits_for(
    model: Any, tokenizer: Any, texts: Sequence[str], max_length: int, batch: int = 64
) -> np.ndarray:
    """Raw logits of a logits-returning module for ``texts`` (eval mode, no gradients)."""
    model.eval()
    with torch.inference_mode():
        return batched(
            lambda chunk: model(**encode(tokenizer, chunk, max_length)).float().numpy(),
            texts,
            batch,
        )


def _optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    no_decay = ("bias", "LayerNorm.weight")
    named = list(model.named_parameters())
    groups = [
        {
            "params": [p for n, p in named if not any(k in n for k in no_decay)],
            "weight_decay": weight_decay,
        },
        {"params": [p for n, p in named if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr)


def fine_tune(
    model: torch.nn.Module,
    tokenizer: Any,
    texts: Sequence[str],
    y: np.ndarray,
    val_texts: Sequence[str],
    val_y: np.ndarray,
    *,
    weights: np.ndarray,
    config: Any,
    report: Progress,
    initial_accuracy: float = -1.0,
) -> tuple[int, float]:
    """Train ``model`` in place; returns (epochs run, best validation accuracy). The weights
    kept are the best epoch's, or the starting ones when no epoch beats ``initial_accuracy``."""
    loss_fn = torch.nn.CrossEntropyLoss(
        weight=torch.tensor(weights, dtype=torch.float32),
        label_smoothing=config.label_smoothing,
    )
    optimizer = _optimizer(model, config.learning_rate, config.weight_decay)
    steps_per_epoch = max(1, -(-len(texts) // config.batch_size))
    total = steps_per_epoch * config.max_epochs
    scheduler = get_linear_schedule_with_warmup(  # type: ignore[no-untyped-call]
        optimizer, int(config.warmup_ratio * total), total
    )
    rng = random.Random(config.seed)  # noqa: S311 (shuffling, not security)
    best_acc, best_state, stale, epoch, step = initial_accuracy, None, 0, 0, 0
    if initial_accuracy >= 0:
        best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    start = time.monotonic()
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        for rows in batches(len(texts), config.batch_size, rng):
            enc = encode(tokenizer, [texts[i] for i in rows], config.max_length)
            loss = loss_fn(model(**enc), torch.tensor(y[rows]))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            eta = (time.monotonic() - start) / step * (total - step)
            report(0.9 * step / total, f"epoch {epoch} loss {loss.item():.3f} eta {eta:.0f}s")
        if len(val_texts):
            pred = logits_for(model, tokenizer, val_texts, config.max_length).argmax(1)
            acc = float(np.mean(pred == val_y))
        else:
            acc = 1.0
        report(0.9 * step / total, f"epoch {epoch} validation accuracy {acc:.4f}")
        if acc > best_acc:
            best_acc, stale = acc, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return epoch, best_acc
