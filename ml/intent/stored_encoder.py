"""A frozen-head model on a stored encoder: the version folder keeps only the head, the example
memory and the manifest; the encoder and its ONNX graphs are the encoder store's, shared by every
version and product (:mod:`ml.embeddings.encoder_store`).

Which of the encoder's graphs serves is still decided per model, as for a model's own graph
(:mod:`ml.intent.onnx_export`): the head reads the graph's embeddings, and the int8 graph serves
when the model's top-1 on the validation texts agrees with PyTorch's for ``min_agreement`` of
them (all weights in int8 first, then the feed-forward blocks only), else fp32, else PyTorch.
Graphs are never deleted here: another model may serve them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ml.embeddings.encoder_runtime import LoadedEncoder, load_encoder
from ml.embeddings.encoder_store import FP32, INT8_ALL, INT8_FFN, EncoderRef
from ml.intent.batching import batched
from ml.intent.layout import ENCODER, FROZEN
from ml.intent.onnx_export import MIN_AGREEMENT, OnnxReport

STORE = "encoder_store"  # manifest ``onnx.graph``: the graph is the stored encoder's


def encoder_ref(manifest: dict[str, Any]) -> EncoderRef | None:
    """The stored encoder a frozen-head manifest names; None for a model holding its own
    encoder (fine-tuned, or written before encoders were stored once)."""
    section = manifest.get(ENCODER)
    if manifest.get("strategy") != FROZEN or not isinstance(section, dict):
        return None
    return EncoderRef.from_manifest(section)


def graph_embeddings(
    encoder: LoadedEncoder,
    variant: str,
    texts: Sequence[str],
    max_length: int,
    threads: int = 0,
    batch: int = 64,
) -> np.ndarray:
    """Embeddings of ``texts`` through the encoder's graph ``variant``, in batches."""
    return batched(
        lambda chunk: encoder.embed(chunk, variant=variant, max_length=max_length, threads=threads),
        texts,
        batch,
    )


def choose_graph(
    classify: Any,
    encoder: LoadedEncoder,
    parity_texts: Sequence[str],
    torch_logits: np.ndarray,
    *,
    max_length: int,
    int8: bool = True,
    min_agreement: float = MIN_AGREEMENT,
) -> OnnxReport:
    """The stored graph that serves a model whose ``classify`` maps embeddings (numpy rows) to
    logits, checked against its PyTorch ``torch_logits`` on ``parity_texts``."""
    reference = torch_logits.argmax(1) if len(parity_texts) else np.zeros(0)

    def agreement(variant: str) -> tuple[float, float]:
        if not len(parity_texts):
            return 1.0, 0.0
        vectors = graph_embeddings(encoder, variant, parity_texts, max_length)
        logits = np.asarray(classify(vectors), dtype=np.float32)
        diff = float(np.max(np.abs(logits - torch_logits)))
        return float(np.mean(logits.argmax(1) == reference)), diff

    scope, serving, agree8, diff8 = "none", "torch", 0.0, 0.0
    for name, variant in (("all", INT8_ALL), ("feed_forward", INT8_FFN)) if int8 else ():
        try:
            agree8, diff8 = agreement(variant)
        except ValueError:  # no feed-forward-only variant for this encoder
            continue
        if agree8 >= min_agreement:
            scope, serving = name, variant
            break
    agree32, _ = agreement(FP32)
    if serving == "torch" and agree32 >= min_agreement:
        serving = FP32
    return OnnxReport(
        serving=serving,
        inputs=list(encoder.tokenize(["probe"], 8).keys()),
        int8_scope=scope,
        agreement_int8=round(agree8, 5),
        agreement_fp32=round(agree32, 5),
        max_abs_logit_diff_int8=round(diff8, 5),
        parity_texts=len(parity_texts),
    )


def stored_encoder(ref: EncoderRef) -> LoadedEncoder:
    """This process's loaded copy of the stored encoder ``ref`` (see
    :func:`ml.embeddings.encoder_runtime.load_encoder`)."""
    return load_encoder(ref)
