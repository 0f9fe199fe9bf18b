"""Serving a trained intent model: calibrated confidence, out-of-scope flag and top-k.

PyTorch for now (the ONNX int8 serving path is a later step); the model loads in ``warm_up``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml.embeddings.resolve import offline
from ml.intent.calibration import softmax
from ml.interfaces import IntentPrediction

MANIFEST = "deskpilot_intent.json"


class IntentPredictor:
    """Classifies messages with a model folder written by ``ml.intent.train``."""

    def __init__(self, model_dir: Path, *, top_k: int = 3) -> None:
        manifest_path = Path(model_dir) / MANIFEST
        if not manifest_path.exists():
            raise FileNotFoundError(f"{model_dir} is not an intent model (no {MANIFEST})")
        self.model_dir = Path(model_dir)
        self.manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        self._labels: list[str] = list(self.manifest["labels"])
        self.temperature = float(self.manifest.get("temperature", 1.0))
        self.threshold = float(self.manifest.get("threshold", 0.0))
        self.oos_label: str | None = self.manifest.get("oos_label")
        self.max_length = int(self.manifest.get("max_length", 64))
        self.top_k = top_k
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def labels(self) -> Sequence[str]:
        """The intents this model knows."""
        return self._labels

    @property
    def version(self) -> str:
        """The model's version (its folder name when it was trained)."""
        return str(self.manifest.get("version", self.model_dir.name))

    def warm_up(self) -> None:
        """Load tokenizer and weights from disk (offline)."""
        with self._lock:
            if self._model is None:
                offline()
                import torch  # noqa: F401  (loaded here, not at import)
                from transformers import AutoModelForSequenceClassification, AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir))
                self._model = AutoModelForSequenceClassification.from_pretrained(
                    str(self.model_dir)
                )
                self._model.eval()

    def _logits(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        self.warm_up()
        enc = self._tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        with torch.inference_mode():
            return np.asarray(self._model(**enc).logits.float().numpy())

    def _verdict(self, probs: np.ndarray) -> IntentPrediction:
        order = np.argsort(-probs)
        top = int(order[0])
        intent, confidence = self._labels[top], float(probs[top])
        oos = intent == self.oos_label or confidence < self.threshold
        top_k = [(self._labels[int(i)], float(probs[int(i)])) for i in order[: self.top_k]]
        return IntentPrediction(
            intent=intent, confidence=confidence, is_out_of_scope=oos, top_k=top_k
        )

    def predict(self, text: str) -> IntentPrediction:
        """Classify one message (empty text is out of scope with confidence 0)."""
        return self.predict_batch([text])[0]

    def predict_batch(self, texts: Sequence[str]) -> list[IntentPrediction]:
        """Classify many messages at once; very long texts are truncated, never rejected."""
        results: list[IntentPrediction | None] = [None] * len(texts)
        real = [i for i, t in enumerate(texts) if t and t.strip()]
        if real:
            probs = softmax(self._logits([texts[i] for i in real]), self.temperature)
            for row, i in enumerate(real):
                results[i] = self._verdict(probs[row])
        fallback = self.oos_label or "out_of_scope"
        return [r or IntentPrediction(fallback, 0.0, True, ()) for r in results]
