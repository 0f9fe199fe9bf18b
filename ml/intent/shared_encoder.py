"""One encoder pass per message: a ``frozen_head`` intent model reads the very sentence
embeddings that retrieval's query embedder makes when both are the same encoder, so the gate can
classify the query vector retrieval needs anyway instead of encoding the message a second time.

Sharing is decided once per loaded model by :func:`check_sharing`: same encoder name, and on a
few probe messages the head on the query embedder's vectors gives the same top intent and nearly
the same calibrated probabilities as the model's exact (PyTorch fp32) forward pass. The reference
is fp32 on purpose: the int8 graph a model usually serves is itself an approximation (about 2 % of
BANKING77 messages get another top intent from it than from fp32, at the same accuracy), and the
query embedder computes the fp32 encoder. A model that fails keeps encoding the text itself, so a
mismatch costs speed, never accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml.intent.calibration import softmax
from ml.intent.predictor import IntentPredictor
from ml.interfaces import Embedder

# short and long, in and out of a typical product's scope: the probes only compare two paths
PROBES = (
    "where is my card?",
    "I would like to talk to a real person please",
    "hello there",
    "How long does a transfer to another bank take, and is there a fee for it?",
    "my payment was declined at the shop this morning even though I have money",
    "what's the weather like tomorrow",
)
MAX_PROB_DIFF = 0.02  # ONNX fp32 against PyTorch fp32 differ by ~1e-5; more is another encoder


@dataclass(frozen=True)
class SharingCheck:
    """Whether an intent model may classify the query embedder's vectors, and why."""

    shared: bool
    reason: str
    max_prob_diff: float | None = None


def check_sharing(
    predictor: IntentPredictor, embedder: Embedder, reference: IntentPredictor | None = None
) -> SharingCheck:
    """Decide whether ``predictor`` can classify ``embedder``'s vectors (see the module doc);
    ``reference`` is the model's fp32 PyTorch predictor (loaded here when not given)."""
    encoder = predictor.frozen_encoder
    if encoder is None:
        return SharingCheck(False, "the intent model fine-tuned its encoder")
    name = str(getattr(embedder, "name", ""))
    if encoder != name:
        return SharingCheck(False, f"intent encoder {encoder!r} is not the query embedder {name!r}")
    exact = reference or IntentPredictor(predictor.model_dir, backend="torch", second_opinion=False)
    own = softmax(exact.logits(PROBES), predictor.temperature)
    vectors = np.asarray(embedder.embed(list(PROBES)), dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(PROBES):
        return SharingCheck(False, f"the query embedder returned shape {vectors.shape}")
    try:
        shared = softmax(predictor.head_logits(vectors), predictor.temperature)
    except ValueError as exc:
        return SharingCheck(False, str(exc))
    diff = float(np.abs(own - shared).max())
    same_top = bool((own.argmax(1) == shared.argmax(1)).all())
    if not same_top or diff > MAX_PROB_DIFF:
        why = "top intents differ" if not same_top else f"probabilities differ by {diff:.3f}"
        return SharingCheck(False, f"probe check failed: {why}", round(diff, 4))
    return SharingCheck(True, f"reads {name} query vectors", round(diff, 4))
