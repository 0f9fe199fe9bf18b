"""Fine-tuning the real MiniLM on a slice of the demo intent examples (our own writing): it
learns (>= 80% on a held-out split), calibrates, saves a complete artifact, and the predictor
never crashes on odd input."""

from __future__ import annotations

import csv
import random
import time
from collections import defaultdict
from pathlib import Path

import pytest

from ml.intent.predictor import IntentPredictor
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


def test_fine_tune_learns_and_round_trips(tmp_path: Path) -> None:
    train, test = _split()
    seen: list[str] = []
    start = time.monotonic()
    result = train_intent_model(
        [t for t, _ in train],
        [i for _, i in train],
        tmp_path / "v1",
        config=TrainConfig(),
        progress=lambda f, m: seen.append(m),
        data_hash="abc",
    )
    assert time.monotonic() - start < 600
    assert any("loss" in m and "eta" in m for m in seen) and seen[-1] == "done"
    assert result.temperature > 0 and 0 <= result.threshold <= 1
    files = {p.name for p in (tmp_path / "v1").iterdir()}
    assert {"model.safetensors", "config.json", "deskpilot_intent.json"} <= files
    assert not list(tmp_path.glob(".tmp-*"))

    predictor = IntentPredictor(tmp_path / "v1")
    preds = predictor.predict_batch([t for t, _ in test])
    accuracy = sum(p.intent == i for p, (_, i) in zip(preds, test, strict=True)) / len(test)
    assert accuracy >= 0.8, f"held-out accuracy {accuracy:.2f}"
    assert predictor.manifest["data_hash"] == "abc" and predictor.version == "v1"
    assert 0.0 <= preds[0].confidence <= 1.0 and len(preds[0].top_k) == 3

    for odd in ["", "   ", "🙂🙂🙂", "¿Dónde está mi tarjeta?", "我的卡丢了", "card " * 5000]:
        p = predictor.predict(odd)
        assert p.intent in predictor.labels and 0.0 <= p.confidence <= 1.0
    assert predictor.predict("").is_out_of_scope and predictor.predict("").confidence == 0.0

    with pytest.raises(FileExistsError):
        train_intent_model(["a", "b"], ["x", "y"], tmp_path / "v1")
    with pytest.raises(ValueError, match="two intents"):
        train_intent_model(["a", "b"], ["x", "x"], tmp_path / "v2")
