"""Reading an intent model folder: its manifest, its PyTorch classifier, and adding the ONNX
graphs to a folder trained without them."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MANIFEST = "deskpilot_intent.json"
# Training strategies (``TrainConfig.strategy``) and the two architectures they produce.
FROZEN, FINETUNE, SEQCLS = "frozen_head", "finetune", "sequence_classification"
MEAN_POOL = "mean_pool_linear"  # encoder + mean pooling + linear head: frozen_head and finetune


def read_manifest(model_dir: Path) -> dict[str, Any]:
    """The manifest of an intent model folder (``FileNotFoundError`` if it is not one)."""
    path = Path(model_dir) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{model_dir} is not an intent model (no {MANIFEST})")
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


def load_torch_classifier(model_dir: Path, manifest: dict[str, Any]) -> Any:
    """The model as a ``torch.nn.Module`` whose forward returns logits (eval mode)."""
    from transformers import AutoModelForSequenceClassification

    from ml.intent.finetune import SequenceLogits
    from ml.intent.frozen_head import load_head

    if manifest.get("architecture") == MEAN_POOL:
        return load_head(Path(model_dir), len(manifest["labels"]))
    inner = AutoModelForSequenceClassification.from_pretrained(str(model_dir))
    return SequenceLogits(inner).eval()


def add_onnx(model_dir: Path, parity_texts: Sequence[str]) -> dict[str, Any]:
    """Export and parity-check ONNX graphs for a model folder that has none (trained with
    ``export_onnx`` off, or by an older version); the manifest is replaced atomically."""
    from transformers import AutoTokenizer

    from ml.embeddings.resolve import offline
    from ml.intent.finetune import logits_for
    from ml.intent.onnx_export import export_and_check

    offline()
    model_dir = Path(model_dir)
    manifest = read_manifest(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = load_torch_classifier(model_dir, manifest)
    max_length = int(manifest.get("max_length", 64))
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
        staged = model_dir / f".{MANIFEST}.{uuid.uuid4().hex[:8]}"
        staged.write_text(json.dumps(manifest, indent=2))
        staged.replace(model_dir / MANIFEST)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest
