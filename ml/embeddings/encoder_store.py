"""The encoder store: each frozen sentence encoder once on disk, named by a fingerprint of its
files, in the model cache (``<cache>/encoders/<fingerprint[:16]>/``).

An entry holds what serving needs and no model version copies: the tokenizer and config, and
the encoder's ONNX graphs (transformer + mean pooling + L2 normalisation: fp32, and int8
variants quantized on first use). The PyTorch weights stay where the base model resolves (its
weights package, or the split zip extracted into the same cache), checked against the
fingerprint before use. Intent model versions that keep the encoder frozen name it by
:class:`EncoderRef` (base model + fingerprint) and store only what they trained. Entries and
graphs are written aside and renamed into place (:mod:`ml.embeddings.model_cache`), so
concurrent processes may create the same entry. A missing entry is re-created from the base
model when its files still have the recorded fingerprint; otherwise loading fails clearly.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import shutil
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ml.embeddings.model_cache import ModelNotFound, cache_dir, write_file_once, write_once
from ml.embeddings.onnx_graphs import export_encoder, feed_forward_only, quantize_int8
from ml.embeddings.resolve import resolve_model_path

ENTRY_FILE = "encoder.json"
FP32, INT8_ALL, INT8_FFN = "fp32", "int8_all", "int8_feed_forward"
GRAPHS = {FP32: "encoder.onnx", INT8_ALL: "encoder.int8.onnx", INT8_FFN: "encoder.int8-ffn.onnx"}
WEIGHTS = ("model.safetensors", "pytorch_model.bin")  # the first present is the weights
# what else decides the vectors: the architecture and the tokenizer
HASHED = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
    "spiece.model",
)
_memo: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}
_memo_lock = threading.Lock()


class EncoderUnavailable(ModelNotFound):
    """A stored model's encoder is neither in the store nor re-creatable from its base model."""


@dataclass(frozen=True)
class EncoderRef:
    """How a model version names its frozen encoder: the base model setting it was trained
    with (to re-create the entry) and the sha256 of the encoder's files (to find and check it)."""

    base_model: str
    fingerprint: str

    def as_manifest(self) -> dict[str, str]:
        """The reference as stored in a model manifest (``encoder``)."""
        return {"base_model": self.base_model, "fingerprint": self.fingerprint}

    @classmethod
    def from_manifest(cls, data: dict[str, Any]) -> EncoderRef:
        """The reference a manifest's ``encoder`` section holds."""
        return cls(str(data["base_model"]), str(data["fingerprint"]))


def hashed_files(folder: Path) -> list[Path]:
    """The files of a model folder that its fingerprint covers (weights, config, tokenizer)."""
    weights = next((folder / n for n in WEIGHTS if (folder / n).is_file()), None)
    if weights is None:
        raise ModelNotFound(f"{folder} holds no encoder weights ({' or '.join(WEIGHTS)})")
    return [weights, *(folder / n for n in HASHED if (folder / n).is_file())]


def fingerprint_folder(folder: Path) -> str:
    """sha256 (hex) over the names and contents of the folder's :func:`hashed_files`; memoised
    per process while their sizes and modification times stay the same."""
    files = hashed_files(folder)
    stats = tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    key = (str(folder.resolve()), stats)
    with _memo_lock:
        if key in _memo:
            return _memo[key]
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.name}\n".encode())
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    with _memo_lock:
        _memo[key] = digest.hexdigest()
    return _memo[key]


def store_root(cache: Path | None = None) -> Path:
    """Where encoder entries live: ``<model cache>/encoders``."""
    return (cache or cache_dir()) / "encoders"


def entry_path(ref: EncoderRef, cache: Path | None = None) -> Path:
    """The entry folder of ``ref`` (whether or not it exists)."""
    return store_root(cache) / ref.fingerprint[:16]


def _fill_entry(folder: Path, source: Path, ref: EncoderRef, transformer: Any) -> None:
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(str(source)).save_pretrained(str(folder))
    shutil.copy2(source / "config.json", folder / "config.json")
    inputs = export_encoder(source, folder / GRAPHS[FP32], transformer)
    info = {
        **ref.as_manifest(),
        "source": str(source),
        "inputs": inputs,
        "created_at": datetime.now(UTC).isoformat(),
    }
    (folder / ENTRY_FILE).write_text(json.dumps(info, indent=2))


def source_folder(ref: EncoderRef) -> Path:
    """The base model's folder, checked to still hold the encoder ``ref`` names (PyTorch
    loading and re-creating an entry read it); ``EncoderUnavailable`` otherwise."""
    try:
        folder = resolve_model_path(ref.base_model)
        actual = fingerprint_folder(folder)
    except ModelNotFound as exc:
        raise EncoderUnavailable(
            f"encoder {ref.fingerprint[:16]} ({ref.base_model}) is not in the model store and "
            f"cannot be re-created: {exc}"
        ) from exc
    if actual != ref.fingerprint:
        raise EncoderUnavailable(
            f"the model was trained on encoder {ref.fingerprint[:16]} of '{ref.base_model}', but "
            f"'{ref.base_model}' now resolves to {folder} with other files (fingerprint "
            f"{actual[:16]}): reinstall the version it was trained with, or retrain the model"
        )
    return folder


def _create(target: Path, source: Path, ref: EncoderRef, transformer: Any) -> Path:
    if target.is_dir() and not (target / ENTRY_FILE).is_file():
        # not an entry (the record is written last, inside the temporary folder): a damaged or
        # foreign folder, moved aside before it is replaced
        stale = target.with_name(f".{target.name}.stale-{secrets.token_hex(4)}")
        with contextlib.suppress(FileNotFoundError):  # another process moved it first
            target.rename(stale)
        shutil.rmtree(stale, ignore_errors=True)
    return write_once(target, lambda folder: _fill_entry(folder, source, ref, transformer))


def ensure_entry(
    base_model: str, cache: Path | None = None, transformer: Any = None
) -> tuple[EncoderRef, Path]:
    """The store entry of the encoder ``base_model`` resolves to, created on first use
    (exporting the fp32 graph, from ``transformer`` when already loaded); with its reference."""
    ref = reference_for(base_model)
    target = entry_path(ref, cache)
    if not (target / ENTRY_FILE).is_file():
        _create(target, resolve_model_path(base_model), ref, transformer)
    return ref, target


def reference_for(base_model: str) -> EncoderRef:
    """The reference of the encoder ``base_model`` resolves to now."""
    return EncoderRef(base_model, fingerprint_folder(resolve_model_path(base_model)))


def locate(ref: EncoderRef, cache: Path | None = None) -> Path:
    """The entry folder of ``ref``; a missing one is re-created from the base model when its
    files still match the fingerprint, else ``EncoderUnavailable`` says what to do."""
    target = entry_path(ref, cache)
    if (target / ENTRY_FILE).is_file():
        return target
    return _create(target, source_folder(ref), ref, None)


def repair_graph(entry: Path, ref: EncoderRef) -> Path:
    """Export the entry's fp32 graph again (it proved unreadable) and drop its int8 graphs,
    which were quantized from it; returns the new graph's path."""
    source = source_folder(ref)
    for name in GRAPHS.values():
        (entry / name).unlink(missing_ok=True)
    return write_file_once(entry / GRAPHS[FP32], lambda tmp: _export(source, tmp))


def _export(source: Path, target: Path) -> None:
    export_encoder(source, target)


def graph_path(entry: Path, variant: str) -> Path:
    """The entry's ONNX graph ``variant`` (fp32, int8_all or int8_feed_forward); int8 graphs
    are quantized from the fp32 one on first use (``ValueError`` when the encoder's layer
    names do not allow the feed-forward-only variant)."""
    if variant not in GRAPHS:
        raise ValueError(f"unknown encoder graph '{variant}'; use one of {sorted(GRAPHS)}")
    fp32 = entry / GRAPHS[FP32]
    target = entry / GRAPHS[variant]
    if variant == FP32 or target.is_file():
        return target
    exclude = None
    if variant == INT8_FFN and (exclude := feed_forward_only(fp32)) is None:
        raise ValueError(f"{entry}: the encoder's graph has no BERT-like feed-forward blocks")
    return write_file_once(target, lambda tmp: quantize_int8(fp32, tmp, exclude))


def graph_inputs(entry: Path) -> list[str]:
    """The input names of the entry's graphs."""
    return list(json.loads((entry / ENTRY_FILE).read_text())["inputs"])
