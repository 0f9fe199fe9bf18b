"""Deterministic fakes: same input, same output, no model files needed."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from ml.interfaces import Vector


class HashingEmbedder:
    """Bag-of-words hashing embedder: texts sharing words get similar vectors."""

    def __init__(self, dim: int = 64) -> None:
        if dim < 8:
            raise ValueError("dim must be at least 8")
        self._dim = dim

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self._dim

    def warm_up(self) -> None:
        """Nothing to load."""

    def embed(self, texts: Sequence[str]) -> Vector:
        """L2-normalised hashed word counts."""
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
                out[row, h % self._dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.where(norms == 0, 1, norms)).astype(np.float32)
