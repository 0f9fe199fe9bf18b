"""Serving a trained intent model: calibrated confidence, out-of-scope flag and top-k.

The graph that serves is the one the training-time parity check chose (``onnx.serving`` in the
manifest): the int8 ONNX graph through onnxruntime when it agrees with PyTorch, else fp32 ONNX,
else PyTorch. ``backend="torch"`` forces PyTorch (the evaluation uses it for comparison). The
model loads in ``warm_up``, once, in a thread-safe way. A frozen-head model on a stored encoder
(:mod:`ml.intent.stored_encoder`) runs the encoder's graph, loaded once per process and shared
with every model on it, and its head and memory in numpy. A model trained with a second opinion
(:mod:`ml.intent.second_opinion`) loads it too and lets it decide the messages it is unsure of.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml.embeddings.encoder_runtime import LoadedEncoder
from ml.embeddings.encoder_store import GRAPHS
from ml.embeddings.resolve import offline
from ml.intent.artifact import (
    FROZEN,
    HEAD_FILE,
    MANIFEST,
    SECOND_DIR,
    load_torch_classifier,
    read_manifest,
)
from ml.intent.batching import encode
from ml.intent.calibration import softmax
from ml.intent.example_memory import MemoryReader, load_reader
from ml.intent.stored_encoder import encoder_ref, stored_encoder
from ml.interfaces import IntentPrediction

__all__ = ["MANIFEST", "SECOND_DIR", "IntentPredictor", "decide"]


def decide(
    probs: np.ndarray,
    labels: Sequence[str],
    oos_label: str | None,
    threshold: float,
    class_thresholds: dict[str, float],
    top_k: int = 3,
) -> IntentPrediction:
    """The gate's verdict from one row of calibrated probabilities: the top intent, flagged out
    of scope when it is the out-of-scope class or below its (per-intent, else global) threshold."""
    order = np.argsort(-probs)
    top = int(order[0])
    intent, confidence = labels[top], float(probs[top])
    oos = intent == oos_label or confidence < class_thresholds.get(intent, threshold)
    ranked = [(labels[int(i)], float(probs[int(i)])) for i in order[:top_k]]
    return IntentPrediction(intent=intent, confidence=confidence, is_out_of_scope=oos, top_k=ranked)


class IntentPredictor:
    """Classifies messages with a model folder written by ``ml.intent.train``."""

    def __init__(
        self,
        model_dir: Path,
        *,
        top_k: int = 3,
        backend: str = "auto",
        threads: int = 0,
        second_opinion: bool = True,
    ) -> None:
        if backend not in ("auto", "onnx", "torch"):
            raise ValueError("backend must be auto, onnx or torch")
        self.model_dir = Path(model_dir)
        self.manifest: dict[str, Any] = read_manifest(self.model_dir)
        self._labels: list[str] = list(self.manifest["labels"])
        self.temperature = float(self.manifest.get("temperature", 1.0))
        self.threshold = float(self.manifest.get("threshold", 0.0))
        self.class_thresholds: dict[str, float] = dict(self.manifest.get("class_thresholds", {}))
        self.oos_label: str | None = self.manifest.get("oos_label")
        self.max_length = int(self.manifest.get("max_length", 64))
        self.top_k = top_k
        serving = str((self.manifest.get("onnx") or {}).get("serving", "torch"))
        # a frozen encoder in the encoder store (None: the folder holds its own encoder)
        self.encoder_ref = encoder_ref(self.manifest)
        self._encoder: LoadedEncoder | None = None
        if self.encoder_ref is not None:
            onnx_ok = serving in GRAPHS
        else:
            onnx_ok = serving != "torch" and (self.model_dir / serving).exists()
        if backend == "onnx" and not onnx_ok:
            raise FileNotFoundError(f"{model_dir} has no ONNX graph that passed its parity check")
        self.backend = serving if onnx_ok and backend != "torch" else "torch"
        self._threads = threads
        self._inputs: list[str] = list((self.manifest.get("onnx") or {}).get("inputs", []))
        self._model: Any = None
        self._tokenizer: Any = None
        self._head: tuple[np.ndarray, np.ndarray, MemoryReader | None] | None = None
        self._lock = threading.Lock()
        self.second: IntentPredictor | None = None  # consulted below ``second_below``
        self.second_below = 0.0
        second = self.manifest.get("second_opinion") if second_opinion else None
        if second:  # second_opinion=False: the fast model alone (a reference for its own paths)
            folder = self.model_dir / str(second.get("folder", SECOND_DIR))
            if not folder.is_dir():
                raise FileNotFoundError(f"{model_dir}: its second opinion {folder} is missing")
            self.second = IntentPredictor(folder, top_k=top_k, backend=backend, threads=threads)
            if list(self.second.labels) != self._labels:
                raise ValueError(f"{model_dir}: the second opinion knows other intents")
            self.second_below = float(second["below"])

    @property
    def labels(self) -> Sequence[str]:
        """The intents this model knows."""
        return self._labels

    @property
    def version(self) -> str:
        """The model's version (its folder name when it was trained)."""
        return str(self.manifest.get("version", self.model_dir.name))

    def warm_up(self) -> None:
        """Load tokenizer and graph (or weights) from disk, offline, once (and the second
        opinion's, if the model has one). A stored encoder is this process's shared one
        (``EncoderUnavailable`` when it is neither stored nor re-creatable)."""
        if self.second is not None:
            self.second.warm_up()
        if self.frozen_encoder is not None and self._head is None:
            self._load_head()
        with self._lock:
            if self._model is not None:
                return
            offline()
            from transformers import AutoTokenizer

            if self.encoder_ref is not None:
                self._encoder = stored_encoder(self.encoder_ref)
                self._tokenizer = self._encoder.tokenizer
                if self.backend == "torch":
                    self._model = load_torch_classifier(self.model_dir, self.manifest)
                else:  # the session is the shared encoder's; the head is read in numpy
                    self._model = self._encoder.session(self.backend, self._threads)
                return
            self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir))
            if self.backend == "torch":
                self._model = load_torch_classifier(self.model_dir, self.manifest)
            else:
                from ml.intent.onnx_export import open_session

                self._model = open_session(self.model_dir / self.backend, self._threads)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Uncalibrated logits for non-empty ``texts`` (one batch)."""
        self.warm_up()
        if self._encoder is not None and self.backend != "torch":
            vectors = self._encoder.embed(
                texts, variant=self.backend, max_length=self.max_length, threads=self._threads
            )
            return self.head_logits(vectors)
        if self.backend == "torch":
            import torch

            with torch.inference_mode():
                if self._encoder is not None:  # the shared tokenizer, under its lock
                    enc = self._encoder.tokenize(texts, self.max_length, "pt")
                else:
                    enc = encode(self._tokenizer, texts, self.max_length)
                return np.asarray(self._model(**enc).float().numpy())
        from ml.intent.onnx_export import run_graph

        enc = encode(self._tokenizer, texts, self.max_length, "np")
        return run_graph(self._model, enc, self._inputs)

    @property
    def frozen_encoder(self) -> str | None:
        """The base encoder whose sentence embeddings this model's linear head reads, when
        training kept it frozen (``frozen_head``): the head can then classify an embedding made
        elsewhere by that same encoder (see :mod:`ml.intent.shared_encoder`). None otherwise."""
        if self.manifest.get("strategy") != FROZEN or not (self.model_dir / HEAD_FILE).exists():
            return None
        return str(self.manifest.get("base_model") or "") or None

    def head_logits(self, vectors: np.ndarray) -> np.ndarray:
        """Uncalibrated logits of the linear head (mixed with the example memory, if the model
        has one) for sentence embeddings of the frozen encoder (rows: mean-pooled, unit
        length); ``ValueError`` if the encoder was fine-tuned."""
        if self.frozen_encoder is None:
            raise ValueError(f"{self.model_dir} fine-tuned its encoder: it needs the text")
        weight, bias, memory = self._head or self._load_head()
        rows = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if rows.shape[1] != weight.shape[1]:
            raise ValueError(f"embedding size {rows.shape[1]}, the head reads {weight.shape[1]}")
        logits = np.asarray(rows @ weight.T + bias, dtype=np.float32)
        return logits if memory is None else memory.mix(rows, logits)

    def _load_head(self) -> tuple[np.ndarray, np.ndarray, MemoryReader | None]:
        """The head's weights and the example memory, read once (``ValueError`` when a file is
        damaged, so that loading the model fails rather than the first message)."""
        with self._lock:
            if self._head is None:
                from safetensors.numpy import load_file

                try:
                    weights = load_file(str(self.model_dir / HEAD_FILE))
                    memory = load_reader(self.model_dir, len(self._labels))
                    self._head = (weights["weight"].astype(np.float32), weights["bias"], memory)
                except (OSError, ValueError):
                    raise
                except Exception as exc:  # safetensors' own error for a damaged file
                    raise ValueError(f"{self.model_dir}: unreadable head or memory: {exc}") from exc
            return self._head

    def predict_embedding(self, vector: np.ndarray, text: str | None = None) -> IntentPrediction:
        """Classify one message from its frozen-encoder embedding (no encoder pass here); given
        its ``text``, an unsure verdict gets the second opinion, if the model has one."""
        probs = softmax(self.head_logits(vector), self.temperature)[0]
        verdict = self._verdict(probs)
        return verdict if text is None else self._reconsider([verdict], [text])[0]

    def _reconsider(
        self, verdicts: list[IntentPrediction], texts: Sequence[str]
    ) -> list[IntentPrediction]:
        """Replace the verdicts under ``second_below`` by the second opinion's."""
        if self.second is None:
            return verdicts
        unsure = [
            i
            for i, (v, t) in enumerate(zip(verdicts, texts, strict=True))
            if v.confidence < self.second_below and t and t.strip()
        ]
        if not unsure:
            return verdicts
        seconds = self.second.predict_batch([texts[i] for i in unsure])
        out = list(verdicts)
        for i, verdict in zip(unsure, seconds, strict=True):
            out[i] = dataclasses.replace(verdict, first_opinion=verdicts[i])
        return out

    def threshold_for(self, intent: str) -> float:
        """The confidence below which a prediction of ``intent`` counts as out of scope."""
        return self.class_thresholds.get(intent, self.threshold)

    def _verdict(self, probs: np.ndarray) -> IntentPrediction:
        return decide(
            probs, self._labels, self.oos_label, self.threshold, self.class_thresholds, self.top_k
        )

    def predict(self, text: str) -> IntentPrediction:
        """Classify one message (empty text is out of scope with confidence 0)."""
        return self.predict_batch([text])[0]

    def predict_batch(self, texts: Sequence[str], batch: int = 64) -> list[IntentPrediction]:
        """Classify many messages; very long texts are truncated, never rejected."""
        results: list[IntentPrediction | None] = [None] * len(texts)
        real = [i for i, t in enumerate(texts) if t and t.strip()]
        for start in range(0, len(real), batch):
            rows = real[start : start + batch]
            probs = softmax(self.logits([texts[i] for i in rows]), self.temperature)
            for row, i in enumerate(rows):
                results[i] = self._verdict(probs[row])
        fallback = self.oos_label or "out_of_scope"
        verdicts = [r or IntentPrediction(fallback, 0.0, True, ()) for r in results]
        return self._reconsider(verdicts, texts)
