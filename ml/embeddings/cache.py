"""A query-embedding cache: the same query embedded twice in a row costs one model call.

Answering a message may search twice (once unfiltered, once within the predicted intent's
category); both searches embed the same text. Only single-text calls (queries) are cached;
batches (indexing) go straight to the model.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from ml.interfaces import Embedder, Vector


class QueryCache:
    """Wraps an :class:`Embedder`; keeps the vectors of the last ``size`` single queries."""

    def __init__(self, embedder: Embedder, size: int = 256) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.embedder = embedder
        self.size = size
        self._cache: OrderedDict[str, Vector] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0

    @property
    def dim(self) -> int:
        """Vector dimension of the wrapped embedder."""
        return self.embedder.dim

    @property
    def name(self) -> str:
        """The wrapped embedder's name, when it has one."""
        return str(getattr(self.embedder, "name", type(self.embedder).__name__))

    def warm_up(self) -> None:
        """Load the wrapped model."""
        self.embedder.warm_up()

    def embed(self, texts: Sequence[str]) -> Vector:
        """Embed ``texts``; a single text already seen comes from the cache."""
        if len(texts) != 1:
            return self.embedder.embed(texts)
        key = texts[0]
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                self.hits += 1
                return hit.copy()
        vector = self.embedder.embed(texts)
        with self._lock:
            self._cache[key] = vector
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return vector.copy()
