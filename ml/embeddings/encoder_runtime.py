"""Stored encoders loaded once per process (keyed by fingerprint) and shared by every model that
names them: every product's intent model on MiniLM, every second opinion on mpnet, read the same
tokenizer and the same ONNX sessions. The PyTorch module (training, parity references) is only
held while someone uses it, so a one-off check does not keep a second copy resident."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml.embeddings.encoder_store import (
    EncoderRef,
    graph_inputs,
    graph_path,
    locate,
    source_folder,
)
from ml.embeddings.model_cache import cache_dir
from ml.embeddings.onnx_graphs import OUTPUT, open_session
from ml.embeddings.resolve import offline

_loaded: dict[tuple[str, str], LoadedEncoder] = {}
_lock = threading.Lock()


class LoadedEncoder:
    """One stored encoder in this process: its tokenizer and ONNX sessions (made on first use,
    then kept) and, on demand, its PyTorch module (kept while referenced)."""

    def __init__(self, ref: EncoderRef, entry: Path) -> None:
        self.ref = ref
        self.entry = entry
        self._tokenizer: Any = None
        self._sessions: dict[tuple[str, int], Any] = {}
        self._inputs = graph_inputs(entry)
        self._torch: weakref.ref[Any] | None = None
        self._lock = threading.Lock()
        self._tokenizer_lock = threading.Lock()  # a fast tokenizer is not safe concurrently

    @property
    def tokenizer(self) -> Any:
        """The encoder's tokenizer (loaded once)."""
        with self._lock:
            if self._tokenizer is None:
                offline()
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(str(self.entry))
            return self._tokenizer

    def session(self, variant: str, threads: int = 0) -> Any:
        """The onnxruntime session of graph ``variant`` with ``threads`` (made once)."""
        key = (variant, threads)
        with self._lock:
            if key not in self._sessions:
                self._sessions[key] = open_session(graph_path(self.entry, variant), threads)
            return self._sessions[key]

    def tokenize(self, texts: Sequence[str], max_length: int, tensors: str = "np") -> Any:
        """One padded, truncated batch, tokenised under the tokenizer's lock."""
        tokenizer = self.tokenizer
        with self._tokenizer_lock:
            return tokenizer(
                list(texts),
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors=tensors,
            )

    def embed(
        self, texts: Sequence[str], *, variant: str, max_length: int, threads: int = 0
    ) -> np.ndarray:
        """Unit-length sentence embeddings of non-empty ``texts`` (one batch) through ONNX."""
        session = self.session(variant, threads)
        enc = self.tokenize(texts, max_length)
        feed = {name: np.asarray(enc[name], dtype=np.int64) for name in self._inputs}
        return np.asarray(session.run([OUTPUT], feed)[0], dtype=np.float32)

    def torch_module(self) -> Any:
        """The PyTorch encoder (``transformers.AutoModel``, eval mode), loaded from the base
        model after checking its fingerprint; shared while any caller holds it."""
        with self._lock:
            module = self._torch() if self._torch is not None else None
            if module is None:
                offline()
                from transformers import AutoModel

                module = AutoModel.from_pretrained(str(source_folder(self.ref))).eval()
                self._torch = weakref.ref(module)
            return module


def load_encoder(ref: EncoderRef, cache: Path | None = None) -> LoadedEncoder:
    """This process's :class:`LoadedEncoder` for ``ref`` (its store entry located, or re-created
    from the base model, on first use; ``EncoderUnavailable`` when neither works)."""
    root = str(cache or cache_dir())
    with _lock:
        key = (root, ref.fingerprint)
        if key not in _loaded:
            _loaded[key] = LoadedEncoder(ref, locate(ref, cache))
        return _loaded[key]


def loaded_count() -> int:
    """How many encoders this process holds (tests and the API's readiness detail)."""
    with _lock:
        return len(_loaded)
