"""The tiny-data path: a frozen sentence encoder (mean pooling, L2-normalised, exactly as
sentence-transformers embeds) with a multinomial logistic-regression head.

Embedding every example once and fitting a linear head takes seconds where fine-tuning takes
minutes; with a few dozen examples per intent it is as accurate (the encoder already separates
banking questions well), so the demo model is ready within a minute or two of ``make run``.
The classifier is a ``torch.nn.Module`` like the fine-tuned one, so ONNX export, calibration and
serving are shared.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ml.intent.batching import batched, encode, encoder_inputs
from ml.intent.example_memory import ExampleMemory, MemoryConfig, load_memory, save_memory
from ml.intent.layout import HEAD_FILE

C_GRID = (1.0, 4.0, 16.0, 64.0)  # inverse L2 strength; best on validation accuracy wins


class MeanPoolClassifier(torch.nn.Module):
    """Encoder → masked mean pooling → L2 normalisation → linear head (logits), mixed with the
    example memory when the frozen-head path gave it one (:mod:`ml.intent.example_memory`)."""

    def __init__(self, encoder: Any, n_labels: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Linear(int(encoder.config.hidden_size), n_labels)
        self.memory: ExampleMemory | None = None

    def remember(self, x: np.ndarray, y: np.ndarray, config: MemoryConfig) -> None:
        """Keep embeddings ``x`` of examples labelled ``y`` as the memory (weight 0: none)."""
        n_labels = self.head.out_features
        self.memory = ExampleMemory(x, y, n_labels, config) if config.weight > 0 else None

    def classify(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Logits for sentence embeddings: the head's, mixed with the memory's if any."""
        logits: torch.Tensor = self.head(embeddings)
        if self.memory is not None:
            logits = self.memory(embeddings, logits)
        return logits

    def embed(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Sentence embeddings (unit length) for a tokenised batch."""
        kwargs = encoder_inputs(input_ids, attention_mask, token_type_ids)
        hidden = self.encoder(**kwargs).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits for a tokenised batch."""
        return self.classify(self.embed(input_ids, attention_mask, token_type_ids))


def embed_texts(
    model: MeanPoolClassifier,
    tokenizer: Any,
    texts: Sequence[str],
    max_length: int,
    batch: int = 64,
) -> np.ndarray:
    """Embeddings for ``texts`` with the frozen encoder (no gradients)."""
    model.eval()
    with torch.inference_mode():
        return batched(
            lambda chunk: model.embed(**encode(tokenizer, chunk, max_length)).float().numpy(),
            texts,
            batch,
        )


def _install(model: MeanPoolClassifier, clf: Any, n_features: int) -> None:
    n_labels = model.head.out_features
    weight = np.zeros((n_labels, n_features), dtype=np.float32)
    bias = np.full(n_labels, -1e4, dtype=np.float32)  # a class absent from training never wins
    classes = clf.classes_.astype(int)
    if len(classes) == 2:  # binary LR stores one row: logit(class 1) - logit(class 0)
        weight[classes[1]], bias[classes[1]] = clf.coef_[0], clf.intercept_[0]
        bias[classes[0]] = 0.0
    else:
        weight[classes], bias[classes] = clf.coef_, clf.intercept_
    with torch.no_grad():
        model.head.weight.copy_(torch.from_numpy(weight))
        model.head.bias.copy_(torch.from_numpy(bias))


def _logreg(c: float, seed: int, x: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced", random_state=seed)
    return clf.fit(x, y)


def fit_head(
    model: MeanPoolClassifier,
    train_x: np.ndarray,
    train_y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    *,
    seed: int,
) -> dict[str, float]:
    """Fit the linear head (class-balanced logistic regression, L2 strength chosen on validation
    accuracy) on the training split and copy its weights into ``model.head``."""
    best: tuple[float, float, Any] | None = None
    for c in C_GRID:
        clf = _logreg(c, seed, train_x, train_y)
        acc = float(np.mean(clf.predict(val_x) == val_y)) if len(val_y) else 0.0
        if best is None or acc > best[0]:
            best = (acc, c, clf)
    assert best is not None
    acc, c, clf = best
    _install(model, clf, train_x.shape[1])
    return {"head_C": c, "head_val_accuracy": acc}


def refit_head(
    model: MeanPoolClassifier, x: np.ndarray, y: np.ndarray, *, c: float, seed: int
) -> None:
    """Refit the head with the chosen strength on every example (training + validation): with
    a handful of examples per intent the held-out ones are too valuable to leave out. Call it
    after calibration, which needs logits from a head that has not seen the validation data."""
    _install(model, _logreg(c, seed, x, y), x.shape[1])


def save_head(model: MeanPoolClassifier, folder: Path, *, with_encoder: bool = True) -> None:
    """Write the head weights, the memory, if any, and (``with_encoder``: a fine-tuned encoder,
    which is the model's own) the encoder (safetensors) into ``folder``. A frozen encoder is
    not written: the encoder store holds it once (:mod:`ml.intent.stored_encoder`)."""
    from safetensors.torch import save_file

    if with_encoder:
        model.encoder.save_pretrained(str(folder), safe_serialization=True)
    save_file({k: v.contiguous() for k, v in model.head.state_dict().items()}, folder / HEAD_FILE)
    if model.memory is not None:
        save_memory(model.memory, folder)


def load_head(folder: Path, n_labels: int, encoder: Any = None) -> MeanPoolClassifier:
    """Load a classifier written by ``save_head``, on ``encoder`` (a stored frozen encoder's
    PyTorch module) or, when None, on the encoder saved in ``folder``."""
    from safetensors.torch import load_file
    from transformers import AutoModel

    if encoder is None:
        encoder = AutoModel.from_pretrained(str(folder))
    model = MeanPoolClassifier(encoder, n_labels)
    model.head.load_state_dict(load_file(folder / HEAD_FILE))
    model.memory = load_memory(folder, n_labels)
    return model.eval()
