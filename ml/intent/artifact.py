"""An intent model folder: writing it atomically, reading its manifest and PyTorch classifier,
and adding the ONNX graphs to a folder trained without them."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ml.intent.layout import (
    ENCODER,
    FINETUNE,
    FROZEN,
    HEAD_FILE,
    MANIFEST,
    MEAN_POOL,
    SECOND_DIR,
    SEQCLS,
)

__all__ = [
    "ENCODER",
    "FINETUNE",
    "FROZEN",
    "HEAD_FILE",
    "MANIFEST",
    "MEAN_POOL",
    "SECOND_DIR",
    "SEQCLS",
    "add_onnx",
    "load_torch_classifier",
    "read_manifest",
    "save_artifact",
    "write_manifest",
]


def read_manifest(model_dir: Path) -> dict[str, Any]:
    """The manifest of an intent model folder (``FileNotFoundError`` if it is not one)."""
    path = Path(model_dir) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{model_dir} is not an intent model (no {MANIFEST})")
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


def write_manifest(model_dir: Path, manifest: dict[str, Any]) -> None:
    """Replace a model folder's manifest atomically (written aside, then renamed)."""
    staged = Path(model_dir) / f".{MANIFEST}.{uuid.uuid4().hex[:8]}"
    staged.write_text(json.dumps(manifest, indent=2))
    staged.replace(Path(model_dir) / MANIFEST)


def load_torch_classifier(model_dir: Path, manifest: dict[str, Any]) -> Any:
    """The model as a ``torch.nn.Module`` whose forward returns logits (eval mode)."""
    from transformers import AutoModelForSequenceClassification

    from ml.intent.finetune import SequenceLogits
    from ml.intent.frozen_head import load_head
    from ml.intent.stored_encoder import encoder_ref, stored_encoder

    if manifest.get("architecture") == MEAN_POOL:
        ref = encoder_ref(manifest)
        shared = stored_encoder(ref).torch_module() if ref is not None else None
        return load_head(Path(model_dir), len(manifest["labels"]), shared)
    inner = AutoModelForSequenceClassification.from_pretrained(str(model_dir))
    return SequenceLogits(inner).eval()


def add_onnx(model_dir: Path, parity_texts: Sequence[str]) -> dict[str, Any]:
    """Export and parity-check ONNX graphs for a model folder that has none (trained with
    ``export_onnx`` off, or by an older version); the manifest is replaced atomically."""
    from transformers import AutoTokenizer

    from ml.embeddings.resolve import offline
    from ml.intent.finetune import logits_for
    from ml.intent.onnx_export import export_and_check
    from ml.intent.stored_encoder import STORE, choose_graph, encoder_ref, stored_encoder

    offline()
    model_dir = Path(model_dir)
    manifest = read_manifest(model_dir)
    model = load_torch_classifier(model_dir, manifest)
    max_length = int(manifest.get("max_length", 64))
    ref = encoder_ref(manifest)
    if ref is not None:  # the stored encoder's graphs: choose one, write nothing here
        encoder = stored_encoder(ref)
        reference = logits_for(model, encoder.tokenizer, list(parity_texts), max_length)
        report = choose_graph(
            _numpy_classify(model), encoder, parity_texts, reference, max_length=max_length
        )
        manifest["onnx"] = {**report.as_manifest(), "graph": STORE}
        write_manifest(model_dir, manifest)
        return manifest
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    reference = logits_for(model, tokenizer, list(parity_texts), max_length)
    tmp = model_dir / f".onnx-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        report = export_and_check(
            model, tokenizer, tmp, parity_texts, reference, max_length=max_length
        )
        for graph in tmp.iterdir():
            graph.replace(model_dir / graph.name)
        manifest["onnx"] = report.as_manifest()
        write_manifest(model_dir, manifest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def _numpy_classify(model: Any) -> Any:
    """Logits of a mean-pool model's head (and memory) for numpy embeddings."""
    import numpy as np
    import torch

    def classify(vectors: Any) -> Any:
        with torch.inference_mode():
            return model.classify(torch.from_numpy(np.asarray(vectors))).float().numpy()

    return classify


def save_artifact(
    model: Any,
    tokenizer: Any,
    out_dir: Path,
    manifest: dict[str, Any],
    *,
    parity: tuple[Sequence[str], Any] | None = None,
    report: dict[str, Any] | None = None,
    int8: bool = True,
    encoder: Any = None,
) -> Path:
    """Write weights (safetensors), tokenizer, manifest and, given ``parity`` (validation texts
    and their PyTorch logits), the checked ONNX graphs into a temporary sibling folder, then
    rename it to ``out_dir`` (which must not exist): no partial artifact is ever left behind.
    ``report`` (the validation evaluation report) goes to ``validation/`` with its PNG;
    ``int8=False``: no int8 graph is tried. Given ``encoder`` (the stored frozen encoder a
    frozen-head ``model`` reads, a :class:`~ml.embeddings.encoder_runtime.LoadedEncoder`), only
    the head and memory are written, the manifest names the encoder, and the graph that serves
    is one of the store's (:mod:`ml.intent.stored_encoder`)."""
    from ml.intent.finetune import SequenceLogits
    from ml.intent.frozen_head import MeanPoolClassifier, save_head
    from ml.intent.onnx_export import export_and_check
    from ml.intent.report import write_report
    from ml.intent.stored_encoder import STORE, choose_graph

    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".tmp-{out_dir.name}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        if isinstance(model, MeanPoolClassifier):
            save_head(model, tmp, with_encoder=encoder is None)
        else:
            inner: Any = model.model if isinstance(model, SequenceLogits) else model
            inner.save_pretrained(str(tmp), safe_serialization=True)
        if encoder is None:  # a stored encoder's tokenizer is the store's
            tokenizer.save_pretrained(str(tmp))
        manifest = {
            "version": out_dir.name,
            "created_at": datetime.now(UTC).isoformat(),
            **manifest,
        }
        if encoder is not None:
            manifest[ENCODER] = encoder.ref.as_manifest()
        if parity is not None and encoder is not None:
            onnx_report = choose_graph(
                _numpy_classify(model),
                encoder,
                parity[0],
                parity[1],
                max_length=int(manifest.get("max_length", 64)),
                int8=int8,
            )
            manifest["onnx"] = {**onnx_report.as_manifest(), "graph": STORE}
        elif parity is not None:
            onnx_report = export_and_check(
                model,
                tokenizer,
                tmp,
                parity[0],
                parity[1],
                max_length=int(manifest.get("max_length", 64)),
                int8=int8,
            )
            manifest["onnx"] = onnx_report.as_manifest()
        if report is not None:
            write_report(report, tmp / "validation", title="Validation reliability")
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
