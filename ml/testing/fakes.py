"""Deterministic fakes: same input, same output, no model files needed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ml.interfaces import Chunk, IntentPrediction, ScoredChunk, Vector

Predict = Callable[[int, str], tuple[str | None, IntentPrediction | None]]


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


class FakeKnowledge:
    """A product's knowledge as the answer pipeline searches it: ``chunks`` in the given order,
    each with the dense score ``dense``; a ``category`` filter keeps the chunks of those
    categories. ``calls`` counts searches."""

    def __init__(self, chunks: Sequence[Chunk], dense: float = 0.5) -> None:
        self.chunks, self.dense, self.calls = list(chunks), dense, 0

    def search(
        self, product_id: int, query: str, k: int = 5, *, filters: Mapping[str, Any] | None = None
    ) -> tuple[str | None, list[ScoredChunk]]:
        """``("idx-1", hits)``: the first ``k`` chunks, scored 1/rank."""
        self.calls += 1
        chunks = self.chunks
        if filters:
            chunks = [c for c in chunks if c.metadata.get("category") in filters["category"]]
        hits = [ScoredChunk(c, 1.0 / i, i, {"dense": self.dense}) for i, c in enumerate(chunks, 1)]
        return "idx-1", hits[:k]


def fixed_predictor(intent: str | None, confidence: float = 0.9) -> Predict:
    """A product-scoped intent predictor that always says ``intent`` (None: no model)."""

    def predict(product_id: int, text: str) -> tuple[str | None, IntentPrediction | None]:
        if intent is None:
            return None, None
        return "model-1", IntentPrediction(intent, confidence, intent == "out_of_scope")

    return predict
