"""ONNX graphs of a sentence encoder: export (transformer, mean pooling, L2 normalisation, in
fp32), int8 dynamic quantization, and onnxruntime sessions. Shared by the query embedder
(:mod:`ml.embeddings.onnx_sentence`), the encoder store (:mod:`ml.embeddings.encoder_store`) and
the intent classifiers' own graphs (:mod:`ml.intent.onnx_export`)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "embedding"


def open_session(path: Path, threads: int = 0) -> Any:
    """An onnxruntime CPU session (``threads`` 0 lets onnxruntime choose)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def feed_forward_only(source: Path) -> list[str] | None:
    """The MatMul nodes to leave in fp32 so that only the feed-forward blocks (two thirds of a
    BERT layer's weights) are quantized; None when the graph's names are not BERT-like."""
    import onnx

    names = [n.name for n in onnx.load(str(source)).graph.node if n.op_type == "MatMul"]
    ffn = [
        n for n in names if "intermediate" in n or ("/output/dense" in n and "attention" not in n)
    ]
    return [n for n in names if n not in ffn] if ffn else None


def quantize_int8(source: Path, target: Path, exclude: list[str] | None = None) -> None:
    """Dynamic int8 quantization of the weights, per output channel (activations are quantized
    on the fly). Per-channel scales halve the logit error of per-tensor ones on our models.
    ``exclude`` names nodes kept in fp32."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # onnxruntime logs a pre-processing hint on the root logger
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=exclude or [],
        )
    finally:
        root.setLevel(level)


def _pooled_module(transformer: Any, names: tuple[str, ...]) -> Any:
    """The transformer followed by mean pooling over real tokens and L2 normalisation."""
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs: Any) -> Any:
            named = dict(zip(names, inputs, strict=True))
            hidden = self.transformer(**named).last_hidden_state
            mask = named["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(summed, dim=-1)

    return MeanPooled()


def export_encoder(model_path: Path, target: Path, transformer: Any = None) -> list[str]:
    """Export the model folder's transformer (or the given, already loaded ``transformer``)
    with mean pooling to the ONNX file ``target``; returns the graph's input names. The caller
    makes it atomic (``target`` is written directly)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    encoder = transformer if transformer is not None else AutoModel.from_pretrained(str(model_path))
    sample = tokenizer(["how do I activate my card", "hi"], padding=True, return_tensors="pt")
    names = tuple(n for n in INPUTS if n in sample)
    module = _pooled_module(encoder.eval(), names)
    axes: dict[str, dict[int, str]] = {n: {0: "batch", 1: "sequence"} for n in names}
    axes[OUTPUT] = {0: "batch"}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            tuple(sample[n] for n in names),
            str(target),
            input_names=list(names),
            output_names=[OUTPUT],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    return list(names)
