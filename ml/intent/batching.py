"""Tokenising and batching shared by training, export and serving of intent models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def encode(tokenizer: Any, texts: Sequence[str], max_length: int, tensors: str = "pt") -> Any:
    """One padded, truncated batch (``tensors``: "pt" for PyTorch, "np" for onnxruntime)."""
    return tokenizer(
        list(texts), padding=True, truncation=True, max_length=max_length, return_tensors=tensors
    )


def encoder_inputs(
    input_ids: Any, attention_mask: Any, token_type_ids: Any | None
) -> dict[str, Any]:
    """Keyword arguments for a transformers encoder (``token_type_ids`` only when given)."""
    kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
    if token_type_ids is not None:
        kwargs["token_type_ids"] = token_type_ids
    return kwargs


def batched(
    run: Callable[[Sequence[str]], np.ndarray], texts: Sequence[str], batch: int = 64
) -> np.ndarray:
    """``run`` over ``texts`` in batches of ``batch``, rows concatenated in input order. Texts
    of similar length share a batch (sorted by length, then put back), so little of each padded
    batch is padding."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    ordered = [texts[i] for i in order]
    out = [run(ordered[start : start + batch]) for start in range(0, len(ordered), batch)]
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    rows = np.concatenate(out)
    restored = np.empty_like(rows)
    restored[np.asarray(order)] = rows
    return restored
