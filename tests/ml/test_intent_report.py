"""The evaluation report's arithmetic on constructed predictions (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml.intent.report import evaluation_report, write_report
from ml.interfaces import IntentPrediction

pytestmark = pytest.mark.unit

LABELS = ["card_arrival", "change_pin", "out_of_scope"]


def _p(intent: str, confidence: float, oos: bool = False) -> IntentPrediction:
    return IntentPrediction(
        intent, confidence, oos or intent == "out_of_scope", ((intent, confidence),)
    )


def test_report_counts_per_intent_confusions_and_out_of_scope(tmp_path: Path) -> None:
    gold = ["card_arrival", "card_arrival", "change_pin", "change_pin", "out_of_scope", "weather"]
    preds = [
        _p("card_arrival", 0.95),
        _p("change_pin", 0.60),  # confused
        _p("change_pin", 0.90),
        _p("change_pin", 0.30, oos=True),  # right intent, but below threshold: flagged
        _p("out_of_scope", 0.99),  # caught
        _p("card_arrival", 0.80),  # unknown label counts as out of scope: missed
    ]
    report = evaluation_report(gold, preds, LABELS)
    assert report["n"] == 6
    assert report["accuracy"] == pytest.approx(3 / 6, abs=1e-4)
    assert report["in_scope_accuracy"] == pytest.approx(2 / 4, abs=1e-4)
    oos = report["out_of_scope"]
    # flagged: the low-confidence change_pin and the real OOS one; 2 gold OOS (incl. "weather")
    assert oos["support"] == 2 and oos["flagged"] == 2
    assert oos["precision"] == 0.5 and oos["recall"] == 0.5
    card = report["per_intent"]["card_arrival"]
    assert card["support"] == 2 and card["precision"] == 0.5 and card["recall"] == 0.5
    pairs = {(c["gold"], c["predicted"]): c["count"] for c in report["confusions"]}
    assert pairs[("card_arrival", "change_pin")] == 1
    assert pairs[("out_of_scope", "card_arrival")] == 1
    assert sum(b["count"] for b in report["reliability"]) == 6
    assert 0 <= report["ece"] <= 1

    write_report(report, tmp_path / "r", title="test")
    assert json.loads((tmp_path / "r" / "report.json").read_text())["n"] == 6
    assert (tmp_path / "r" / "reliability.png").read_bytes()[:4] == b"\x89PNG"


def test_perfectly_calibrated_predictions_have_zero_ece() -> None:
    gold = ["card_arrival"] * 4
    preds = [_p("card_arrival", 1.0)] * 4
    report = evaluation_report(gold, preds, LABELS)
    assert report["ece"] == 0.0 and report["accuracy"] == 1.0
    assert report["out_of_scope"]["support"] == 0


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="align"):
        evaluation_report(["a"], [], LABELS)
    with pytest.raises(ValueError, match="nothing"):
        evaluation_report([], [], LABELS)
