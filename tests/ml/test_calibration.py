"""Temperature scaling, calibration error and out-of-scope thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from ml.intent.calibration import (
    choose_threshold,
    expected_calibration_error,
    fit_temperature,
    log_softmax,
    oos_metrics,
    per_class_thresholds,
    reliability_bins,
    softmax,
)

pytestmark = pytest.mark.unit


def _simulate(
    true_temperature: float, n: int = 4000, k: int = 6, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Logits z whose true class probabilities are softmax(z / true_temperature)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=4.0, size=(n, k))
    p = softmax(z, true_temperature)
    labels = np.array([rng.choice(k, p=row) for row in p])
    return z, labels


def test_softmax_is_stable_and_normalised() -> None:
    z = np.array([[1000.0, 0.0, -1000.0], [1.0, 1.0, 1.0]])
    p = softmax(z)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[1], 1 / 3)
    assert np.all(np.isfinite(log_softmax(z)))
    np.testing.assert_allclose(softmax(z, 2.0), softmax(z / 2.0))
    with pytest.raises(ValueError):
        softmax(z, 0.0)


@pytest.mark.parametrize("true_t", [3.0, 0.5, 1.0])
def test_fit_temperature_recovers_the_simulated_temperature(true_t: float) -> None:
    z, labels = _simulate(true_t)
    t = fit_temperature(z, labels)
    assert t == pytest.approx(true_t, rel=0.08)


def test_temperature_scaling_lowers_ece_of_overconfident_logits() -> None:
    z, labels = _simulate(3.0, seed=1)
    before = expected_calibration_error(softmax(z), labels)
    t = fit_temperature(z, labels)
    after = expected_calibration_error(softmax(z, t), labels)
    assert before > 0.1  # really over-confident
    assert after < before / 3
    # Scaling never changes the predicted class.
    assert np.array_equal(softmax(z, t).argmax(1), z.argmax(1))


def test_fit_temperature_clips_to_bounds_on_separable_data() -> None:
    z = np.array([[2.0, 0.0], [0.0, 2.0]] * 10)
    labels = np.array([0, 1] * 10)
    assert fit_temperature(z, labels, bounds=(0.1, 10.0)) == pytest.approx(0.1, rel=1e-3)


def test_fit_temperature_validates_inputs() -> None:
    z = np.zeros((4, 3))
    with pytest.raises(ValueError, match="index columns"):
        fit_temperature(z, [0, 1, 2, 3])
    with pytest.raises(ValueError, match="shape"):
        fit_temperature(z, [0, 1])
    with pytest.raises(ValueError, match="integer"):
        fit_temperature(z, [0.5, 1, 2, 0])
    with pytest.raises(ValueError):
        fit_temperature(np.zeros(4), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="bounds"):
        fit_temperature(z, [0, 1, 2, 0], bounds=(2.0, 1.0))


def test_ece_hand_computed_and_bins() -> None:
    # Two examples at confidence 0.9 (one right), two at 0.6 (both right).
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    labels = np.array([0, 1, 0, 1])
    # bins of width 0.1: |0.5 - 0.9| * 2/4 + |1.0 - 0.6| * 2/4 = 0.4
    assert expected_calibration_error(probs, labels, n_bins=10) == pytest.approx(0.4)
    bins = reliability_bins(probs, labels, n_bins=10)
    assert len(bins) == 10 and sum(b.count for b in bins) == 4
    full = {round(b.lower, 1): b for b in bins if b.count}
    assert set(full) == {0.5, 0.8}
    assert full[0.8].accuracy == 0.5 and full[0.8].confidence == pytest.approx(0.9)
    assert full[0.5].accuracy == 1.0
    # Confidence 1.0 lands in the last bin, not past it.
    assert reliability_bins(np.array([[1.0, 0.0]]), np.array([0]), n_bins=5)[-1].count == 1


def test_perfectly_calibrated_probs_have_small_ece() -> None:
    rng = np.random.default_rng(3)
    conf = rng.uniform(0.5, 1.0, size=20000)
    correct = rng.uniform(size=conf.size) < conf
    probs = np.stack([conf, 1 - conf], axis=1)
    labels = np.where(correct, 0, 1)
    assert expected_calibration_error(probs, labels) < 0.02


def test_oos_metrics_defined_as_zero_when_undefined() -> None:
    assert oos_metrics([False, False], [False, False]) == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
    }
    m = oos_metrics([True, True, False, False], [True, False, True, False])
    assert m == {"precision": 0.5, "recall": 0.5, "f1": 0.5}
    with pytest.raises(ValueError):
        oos_metrics([True], [True, False])


def test_threshold_on_separable_data_meets_target_with_full_recall() -> None:
    rng = np.random.default_rng(4)
    conf = np.concatenate([rng.uniform(0.05, 0.3, 50), rng.uniform(0.6, 1.0, 200)])
    is_oos = np.arange(250) < 50
    choice = choose_threshold(conf, ~is_oos, is_oos, target_precision=0.95)
    assert choice.met_target and choice.method == "precision_target"
    assert choice.oos_recall == 1.0 and choice.oos_precision == 1.0
    assert choice.in_scope_rejected == 0.0
    # Midway in the gap between the classes, not on a validation point.
    assert conf[is_oos].max() < choice.threshold < conf[~is_oos].min()
    assert np.array_equal(conf < choice.threshold, is_oos)


def test_threshold_trades_recall_for_precision_on_overlapping_data() -> None:
    rng = np.random.default_rng(5)
    conf = np.concatenate([rng.uniform(0.0, 0.6, 100), rng.uniform(0.4, 1.0, 400)])
    is_oos = np.arange(500) < 100
    choice = choose_threshold(conf, ~is_oos, is_oos, target_precision=0.9)
    assert choice.met_target
    assert choice.oos_precision >= 0.9 and 0.5 < choice.oos_recall < 1.0
    # It is the best reachable recall: any higher threshold breaks the precision target.
    higher = np.sort(conf[conf >= choice.threshold])[:5]
    for t in higher + 1e-9:
        m = oos_metrics(conf < t, is_oos)
        assert m["precision"] < 0.9 or m["recall"] <= choice.oos_recall


def test_threshold_falls_back_to_best_f1_when_target_is_unreachable() -> None:
    rng = np.random.default_rng(6)
    conf = rng.uniform(size=400)  # confidence carries no signal
    is_oos = rng.uniform(size=400) < 0.3
    choice = choose_threshold(conf, ~is_oos, is_oos, target_precision=0.99)
    assert not choice.met_target and choice.method == "best_f1"
    f1 = oos_metrics(conf < choice.threshold, is_oos)["f1"]
    for t in np.linspace(0, 1.01, 200):
        assert oos_metrics(conf < t, is_oos)["f1"] <= f1 + 1e-12


def test_threshold_without_oos_rejects_at_most_the_allowed_fraction() -> None:
    rng = np.random.default_rng(7)
    conf = rng.uniform(0.3, 1.0, 1000)
    correct = rng.uniform(size=1000) < 0.9
    no_oos = np.zeros(1000, dtype=bool)
    choice = choose_threshold(conf, correct, no_oos, max_in_scope_rejection=0.05)
    assert choice.method == "in_scope_quantile" and choice.met_target
    rejected_correct = np.mean(conf[correct] < choice.threshold)
    assert 0.04 < rejected_correct <= 0.05
    assert choice.oos_precision == 0.0 and choice.oos_recall == 0.0
    assert choice.in_scope_rejected == pytest.approx(np.mean(conf < choice.threshold))
    # Zero tolerance means nothing correct is rejected.
    strict = choose_threshold(conf, correct, no_oos, max_in_scope_rejection=0.0)
    assert np.sum(conf[correct] < strict.threshold) == 0


def test_choose_threshold_validates_inputs() -> None:
    with pytest.raises(ValueError):
        choose_threshold([0.5], [True, False], [False, False])
    with pytest.raises(ValueError):
        choose_threshold([], [], [])
    with pytest.raises(ValueError, match="no correct"):
        choose_threshold([0.5, 0.6], [False, False], [False, False])


def test_per_class_thresholds_respect_min_support_and_clip() -> None:
    rng = np.random.default_rng(8)
    # Class 0: precise everywhere -> may go below the global threshold, but only by max_shift.
    c0 = rng.uniform(0.2, 1.0, 100)
    ok0 = np.ones(100, dtype=bool)
    # Class 1: wrong below 0.75, right above -> threshold where precision first reaches 0.9.
    c1 = rng.uniform(0.4, 1.0, 200)
    ok1 = c1 > 0.75
    # Class 2: too few predictions -> global threshold.
    c2 = np.array([0.9, 0.1, 0.5])
    ok2 = np.array([False, False, False])
    # Class 3: never reaches the target -> strictest allowed value.
    c3 = rng.uniform(0.0, 1.0, 50)
    ok3 = np.zeros(50, dtype=bool)
    conf = np.concatenate([c0, c1, c2, c3])
    pred = np.repeat([0, 1, 2, 3], [100, 200, 3, 50])
    ok = np.concatenate([ok0, ok1, ok2, ok3])
    out = per_class_thresholds(
        conf, pred, ok, global_threshold=0.5, min_support=20, target_precision=0.9, max_shift=0.2
    )
    assert set(out) == {0, 1, 2, 3}
    assert out[0] == pytest.approx(0.3)
    assert out[2] == 0.5
    assert out[3] == pytest.approx(0.7)
    assert 0.65 < out[1] <= 0.7  # clipped at global + shift
    wide = per_class_thresholds(conf, pred, ok, global_threshold=0.5, max_shift=0.5)
    accepted = (pred == 1) & (conf >= wide[1])
    assert ok[accepted].mean() >= 0.9
    assert 0.7 < wide[1] <= 0.76
    # With a huge min_support every class keeps the global threshold.
    assert set(
        per_class_thresholds(conf, pred, ok, global_threshold=0.5, min_support=1000).values()
    ) == {0.5}
