"""The example memory of a frozen-head intent model: a second opinion read off the training
examples closest to a message.

A linear head draws one straight boundary between each pair of intents. Hand-written examples
cover an intent unevenly, so a message worded like a few examples of one intent can still fall
on the other side of that boundary. The memory keeps the unit-length embedding of every training
example. For a message it takes a softmax over the cosine similarities to all of them (at
``temperature``), sums it per intent, and mixes that distribution into the head's:

    logits = (1 - weight) * log_softmax(head logits) + weight * log(memory + floor)

Both parts read the same embedding, so the shared query-encoder path (numpy, in the predictor)
and the model's own graph (PyTorch, exported to ONNX as two matrix products) give the same
answer. The defaults were chosen on two 3,000-message dev samples of BANKING77 ``train.csv``
(seeds 13 and 29) against the demo examples: top-1 0.797 → 0.804 / 0.813 and accuracy on the
85 % most confident 0.868 → 0.879 / 0.869 → 0.881; 0.02-0.03 and 0.3-0.5 are a flat optimum.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

MEMORY_FILE = "memory.safetensors"  # vectors (n, dim) float16, labels (n,) int64, settings
T = TypeVar("T")


@dataclass(frozen=True)
class MemoryConfig:
    """How the memory is read and how much it weighs against the linear head."""

    temperature: float = 0.03  # softmax temperature over cosine similarities
    weight: float = 0.4  # share of the memory in the mixed log-probabilities (0: off)
    floor: float = 1e-4  # added to the memory's probabilities before the log

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight < 1.0:
            raise ValueError("memory weight must be in [0, 1)")
        if self.temperature <= 0.0 or self.floor <= 0.0:
            raise ValueError("memory temperature and floor must be positive")

    def as_metadata(self) -> dict[str, str]:
        """The settings as safetensors metadata (strings)."""
        return {k: repr(float(v)) for k, v in vars(self).items()}


def _onehot(labels: np.ndarray, n_labels: int) -> np.ndarray:
    if labels.ndim != 1 or (len(labels) and (labels.min() < 0 or labels.max() >= n_labels)):
        raise ValueError(f"memory labels must be class ids in [0, {n_labels})")
    return np.asarray(np.eye(n_labels, dtype=np.float32)[labels])


def _softmax_rows(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float32)


class ExampleMemory(torch.nn.Module):
    """The memory as a module: ``forward(embeddings, head_logits)`` returns mixed logits."""

    vectors: torch.Tensor  # buffers (registered in __init__), saved with the model
    labels: torch.Tensor
    onehot: torch.Tensor

    def __init__(
        self, vectors: np.ndarray, labels: np.ndarray, n_labels: int, config: MemoryConfig
    ) -> None:
        super().__init__()
        # kept at float16 precision, as stored (half the bytes of a version: the memory is most
        # of what a frozen-head version holds); cosines move by ~1e-4, and the model is
        # calibrated and checked with exactly the vectors it serves
        vectors = np.asarray(vectors, dtype=np.float16).astype(np.float32)
        labels = np.asarray(labels, dtype=np.int64)
        if vectors.ndim != 2 or len(vectors) != len(labels) or not len(vectors):
            raise ValueError("memory needs one embedding (row) per label, at least one")
        self.config = config
        self.register_buffer("vectors", torch.from_numpy(vectors.copy()))
        self.register_buffer("labels", torch.from_numpy(labels.copy()))
        self.register_buffer("onehot", torch.from_numpy(_onehot(labels, n_labels)))

    def forward(self, embeddings: torch.Tensor, head_logits: torch.Tensor) -> torch.Tensor:
        """Mixed logits for unit-length ``embeddings`` and the head's logits for them."""
        cfg = self.config
        attention = torch.softmax(embeddings @ self.vectors.T / cfg.temperature, dim=1)
        recalled = attention @ self.onehot
        head = torch.log_softmax(head_logits, dim=1)
        mixed: torch.Tensor = (1.0 - cfg.weight) * head + cfg.weight * torch.log(
            recalled + cfg.floor
        )
        return mixed


class MemoryReader:
    """The same mixing in numpy, for the predictor's shared-encoder path (no torch there)."""

    def __init__(
        self, vectors: np.ndarray, labels: np.ndarray, n_labels: int, config: MemoryConfig
    ) -> None:
        # float16 precision, as ExampleMemory keeps and stores them
        self.vectors = np.ascontiguousarray(np.asarray(vectors, np.float16), dtype=np.float32)
        self.onehot = _onehot(np.asarray(labels, dtype=np.int64), n_labels)
        self.config = config

    def mix(self, embeddings: np.ndarray, head_logits: np.ndarray) -> np.ndarray:
        """Mixed logits (see the module docstring) for rows of ``embeddings``."""
        cfg = self.config
        recalled = _softmax_rows(embeddings @ self.vectors.T / cfg.temperature) @ self.onehot
        z = head_logits - head_logits.max(axis=1, keepdims=True)
        head = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        mixed = (1.0 - cfg.weight) * head + cfg.weight * np.log(recalled + cfg.floor)
        return np.asarray(mixed, dtype=np.float32)


def save_memory(memory: ExampleMemory, folder: Path) -> None:
    """Write the memory's vectors, labels and settings to ``folder / MEMORY_FILE``."""
    from safetensors.torch import save_file

    vectors = memory.vectors.to(torch.float16).contiguous()  # exact: see ExampleMemory
    tensors = {"vectors": vectors, "labels": memory.labels.contiguous()}
    save_file(tensors, Path(folder) / MEMORY_FILE, metadata=memory.config.as_metadata())


def _load(folder: Path, n_labels: int, kind: Callable[..., T]) -> T | None:
    from safetensors import safe_open

    path = Path(folder) / MEMORY_FILE
    if not path.exists():
        return None
    with safe_open(str(path), framework="np") as fh:
        meta = fh.metadata() or {}
        vectors, labels = fh.get_tensor("vectors"), fh.get_tensor("labels")
    names = MemoryConfig.__dataclass_fields__
    config = MemoryConfig(**{k: float(v) for k, v in meta.items() if k in names})
    return kind(vectors, labels, n_labels, config)


def load_memory(folder: Path, n_labels: int) -> ExampleMemory | None:
    """The memory saved in ``folder`` as a module, or None when the model has none."""
    return _load(folder, n_labels, ExampleMemory)


def load_reader(folder: Path, n_labels: int) -> MemoryReader | None:
    """The memory saved in ``folder`` for numpy serving, or None when the model has none."""
    return _load(folder, n_labels, MemoryReader)
