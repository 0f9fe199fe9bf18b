"""Fakes that only the tests use (the shared, deterministic ones live in ``ml/testing``)."""

from __future__ import annotations

from collections.abc import Sequence

from ml.interfaces import Vector
from ml.testing.fakes import HashingEmbedder


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, counting its ``embed`` calls and the texts it embedded."""

    def __init__(self, dim: int = 64) -> None:
        super().__init__(dim)
        self.calls = 0
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> Vector:
        """Embed as the hashing embedder does, and count."""
        self.calls += 1
        self.texts += len(texts)
        return super().embed(texts)
