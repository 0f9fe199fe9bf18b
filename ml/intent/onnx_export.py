"""ONNX export of a fine-tuned intent classifier, int8 dynamic quantization, and the parity check
that decides whether the quantized graph may serve.

The serving rule: the int8 graph serves when its top-1 predictions agree with PyTorch's on the
validation texts for at least ``min_agreement`` of them (99.5 %: "same top-1 within 0.5 %"),
trying all weights in int8 first and then the feed-forward blocks only; if neither passes, the
fp32 ONNX graph serves when it passes the same check; otherwise PyTorch serves.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml.embeddings.onnx_graphs import feed_forward_only, open_session, quantize_int8
from ml.intent.batching import batched, encode

__all__ = ["OnnxReport", "export_and_check", "feed_forward_only", "open_session", "quantize_int8"]

FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
MIN_AGREEMENT = 0.995


@dataclass(frozen=True)
class OnnxReport:
    """What was exported and which graph serves (``serving`` is a file name or ``"torch"``)."""

    serving: str
    inputs: list[str]
    int8_scope: str  # "all" weights, "feed_forward" only, or "none" (int8 failed parity)
    agreement_int8: float
    agreement_fp32: float
    max_abs_logit_diff_int8: float
    parity_texts: int

    def as_manifest(self) -> dict[str, Any]:
        """The report as stored in ``deskpilot_intent.json`` under ``onnx``."""
        return asdict(self)


def _input_names(tokenizer: Any) -> list[str]:
    probe = tokenizer(["probe"], return_tensors="np")
    return [name for name in INPUTS if name in probe]


def export_fp32(model: Any, tokenizer: Any, path: Path) -> list[str]:
    """Export ``model`` (eval mode) to an ONNX graph with dynamic batch and sequence axes."""
    import torch

    names = _input_names(tokenizer)
    sample = tokenizer(["how do I activate my card", "hi"], padding=True, return_tensors="pt")
    args = tuple(sample[name] for name in names)
    axes: dict[str, dict[int, str]] = {name: {0: "batch", 1: "sequence"} for name in names}
    axes["logits"] = {0: "batch"}
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            args,
            str(path),
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    return names


def onnx_logits(
    session: Any,
    tokenizer: Any,
    names: Sequence[str],
    texts: Sequence[str],
    max_length: int,
    batch: int = 64,
) -> np.ndarray:
    """Logits from an ONNX session for ``texts`` (padded per batch, truncated to max_length)."""
    return batched(
        lambda chunk: run_graph(session, encode(tokenizer, chunk, max_length, "np"), names),
        texts,
        batch,
    )


def run_graph(session: Any, encoded: Any, names: Sequence[str]) -> np.ndarray:
    """Logits of one tokenised (numpy) batch through an ONNX session."""
    feed = {name: np.asarray(encoded[name], dtype=np.int64) for name in names}
    return np.asarray(session.run(["logits"], feed)[0], dtype=np.float32)


def export_and_check(
    model: Any,
    tokenizer: Any,
    folder: Path,
    parity_texts: Sequence[str],
    torch_logits: np.ndarray,
    *,
    max_length: int,
    min_agreement: float = MIN_AGREEMENT,
    int8: bool = True,
) -> OnnxReport:
    """Export fp32 and int8 graphs into ``folder``, compare their top-1 with ``torch_logits`` on
    ``parity_texts`` and choose the serving graph. Graphs that fail the check are deleted.
    ``int8=False`` exports and checks the fp32 graph only."""
    fp32, int8_path = folder / FP32_FILE, folder / INT8_FILE
    names = export_fp32(model, tokenizer, fp32)
    reference = torch_logits.argmax(1) if len(parity_texts) else np.zeros(0)

    def agreement(path: Path) -> tuple[float, float]:
        if not len(parity_texts):
            return 1.0, 0.0
        logits = onnx_logits(open_session(path), tokenizer, names, parity_texts, max_length)
        diff = float(np.max(np.abs(logits - torch_logits)))
        return float(np.mean(logits.argmax(1) == reference)), diff

    # Fastest first: every weight in int8; if that moves too many top-1 decisions, only the
    # feed-forward blocks (attention stays fp32: its errors flip close calls most).
    scopes: list[tuple[str, list[str] | None]] = [("all", None)] if int8 else []
    ffn_exclude = feed_forward_only(fp32) if int8 else None
    if ffn_exclude is not None:
        scopes.append(("feed_forward", ffn_exclude))
    scope, agree8, diff8 = "none", 0.0, 0.0
    for name, exclude in scopes:
        quantize_int8(fp32, int8_path, exclude)
        agree8, diff8 = agreement(int8_path)
        if agree8 >= min_agreement:
            scope = name
            break
    agree32, _ = agreement(fp32)
    if scope != "none":
        serving = INT8_FILE
        fp32.unlink()
    elif agree32 >= min_agreement:
        serving = FP32_FILE
        int8_path.unlink(missing_ok=True)
    else:
        serving = "torch"
        fp32.unlink()
        int8_path.unlink(missing_ok=True)
    return OnnxReport(
        serving=serving,
        inputs=names,
        int8_scope=scope,
        agreement_int8=round(agree8, 5),
        agreement_fp32=round(agree32, 5),
        max_abs_logit_diff_int8=round(diff8, 5),
        parity_texts=len(parity_texts),
    )
