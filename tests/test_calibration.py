"""Calibration and the scores of `evaluate`: ECE, temperature scaling, the prior shift, the scores
against scikit-learn, bootstrap intervals, and the temperature's trip through a checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score, brier_score_loss, f1_score, log_loss, roc_auc_score

from sentilens.evaluation import (
    bootstrap_scores,
    cross_fitted_calibration,
    expected_calibration_error,
    fit_temperature,
    probability_scores,
    reliability_bins,
    shift_prior,
)
from sentilens.models import Architecture, build_model, load_checkpoint, save_checkpoint, temper
from sentilens.training import TrainConfig


def synthetic(n: int = 3000, sharpness: float = 3.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels drawn from sigmoid(z), the calibrated probabilities, and over-confident sigmoid(sharpness * z)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    calibrated = 1 / (1 + np.exp(-z))
    labels = (rng.random(n) < calibrated).astype(int)
    return labels, calibrated, 1 / (1 + np.exp(-sharpness * z))


def test_ece_by_hand_and_reliability_bins() -> None:
    # Bin [0.8, 0.8667): four images at 0.8, one positive -> gap |0.25 - 0.8| on 4 of 6 images;
    # bin [0.0, 0.0667): two images at 0.05, none positive -> gap 0.05 on 2 of 6.
    labels = np.array([1, 0, 0, 0, 0, 0])
    positive = np.array([0.8, 0.8, 0.8, 0.8, 0.05, 0.05])
    assert expected_calibration_error(labels, positive) == pytest.approx((4 * 0.55 + 2 * 0.05) / 6)
    rows = reliability_bins(labels, positive)
    assert [(row["count"], row["positive_rate"]) for row in rows] == [(2, 0.0), (4, 0.25)]
    assert rows[1]["mean_probability"] == pytest.approx(0.8)


def test_temperature_recovers_the_sharpening_and_calibrates() -> None:
    labels, calibrated, sharp = synthetic()
    temperature = fit_temperature(labels, np.stack([1 - sharp, sharp], axis=1))
    assert temperature == pytest.approx(3.0, rel=0.15)
    assert fit_temperature(labels, np.stack([1 - calibrated, calibrated], axis=1)) == pytest.approx(1.0, rel=0.15)
    tempered = temper(torch.tensor(np.stack([1 - sharp, sharp], axis=1)), temperature)[:, 1].numpy()
    assert expected_calibration_error(labels, tempered) < 0.03 < expected_calibration_error(labels, sharp)
    np.testing.assert_allclose(tempered, 1 / (1 + np.exp(-np.log(sharp / (1 - sharp)) / temperature)), atol=1e-9)


def test_temper_leaves_order_and_refuses_a_bad_temperature() -> None:
    probabilities = torch.tensor([[0.9, 0.1], [0.3, 0.7], [0.5, 0.5]])
    assert temper(probabilities, 1.0) is probabilities
    softened = temper(probabilities, 2.0)
    assert softened[:, 1].argsort().tolist() == probabilities[:, 1].argsort().tolist()
    assert softened[2, 1] == pytest.approx(0.5) and 0.5 < softened[1, 1] < 0.7
    with pytest.raises(ValueError, match="temperature must be positive"):
        temper(probabilities, 0.0)


def test_cross_fitted_calibration_is_held_out_and_lowers_ece() -> None:
    labels, _, sharp = synthetic(n=2000)
    probabilities = np.stack([1 - sharp, sharp], axis=1)
    folds = [(tuple(range(start, 2000, 4)), probabilities[start::4]) for start in range(4)]
    found = cross_fitted_calibration(labels, folds)
    assert found["images"] == 2000 and len(found["fold_temperatures"]) == 4
    assert found["ece_after"] < 0.04 < found["ece_before"]
    with pytest.raises(ValueError, match="overlap"):
        cross_fitted_calibration(labels, [folds[0], folds[0]])


def test_prior_shift_moves_the_log_odds() -> None:
    p = np.array([0.2, 0.61, 0.9])
    np.testing.assert_allclose(shift_prior(p, 0.61, 0.61), p)
    shifted = shift_prior(p, 0.5, 0.61)
    assert shifted[1] == pytest.approx(0.5)  # the training rate's own odds become even odds
    assert np.all(shifted < p)
    with pytest.raises(ValueError, match="prior"):
        shift_prior(p, 1.0, 0.61)


def test_scores_agree_with_scikit_learn() -> None:
    labels, _, sharp = synthetic(n=500, seed=1)
    scores = probability_scores(labels, sharp, threshold=0.4)
    called = sharp >= 0.4
    assert scores["roc_auc"] == pytest.approx(roc_auc_score(labels, sharp))
    assert scores["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(labels, called))
    assert scores["f1"] == pytest.approx(f1_score(labels, called))
    assert scores["accuracy"] == pytest.approx(np.mean(called == labels))
    assert scores["log_loss"] == pytest.approx(log_loss(labels, sharp))
    assert scores["brier"] == pytest.approx(brier_score_loss(labels, sharp))
    tied = probability_scores([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.7])  # ties count one half
    assert tied["roc_auc"] == pytest.approx(roc_auc_score([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.7]))
    one_class = probability_scores([1, 1, 1], [0.2, 0.7, 0.9])
    assert np.isnan(one_class["roc_auc"]) and np.isnan(one_class["balanced_accuracy"])


def test_bootstrap_intervals_are_seeded_and_shrink_with_more_images() -> None:
    labels, _, sharp = synthetic(n=2000, seed=2)
    small = bootstrap_scores(labels[:200], sharp[:200], resamples=300, seed=5)
    again = bootstrap_scores(labels[:200], sharp[:200], resamples=300, seed=5)
    large = bootstrap_scores(labels, sharp, resamples=300, seed=5)
    assert small == again
    for name, interval in small.items():
        assert interval.low <= interval.value <= interval.high, name
        assert large[name].high - large[name].low < interval.high - interval.low, name
    exact = bootstrap_scores(labels[:50], sharp[:50], resamples=0)
    assert all(i.low == i.value == i.high for i in exact.values())


def test_checkpoint_keeps_the_temperature_and_old_files_load_uncalibrated(tmp_path: Path) -> None:
    config = TrainConfig(backbone="googlenet", weights="none", blocks=())
    model = build_model(Architecture.from_dict(config.to_dict()))
    model.temperature = 1.7
    path = save_checkpoint(model, config.to_dict(), tmp_path / "m.pt", trained_from=None)
    assert load_checkpoint(path).model.temperature == pytest.approx(1.7)
    payload = torch.load(path, weights_only=True)
    del payload["temperature"]  # as written before calibration existed
    torch.save(payload, tmp_path / "old.pt")
    assert load_checkpoint(tmp_path / "old.pt").model.temperature == 1.0
    payload["temperature"] = -2.0
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="damaged temperature"):
        load_checkpoint(tmp_path / "bad.pt")


def test_cv_judges_calibration_of_the_folds_it_ran_and_not_of_resumed_ones() -> None:
    from sentilens.app.evaluate import calibration_records
    from sentilens.evaluation import CrossValidationResult, FoldResult

    labels, _, sharp = synthetic(n=400, seed=3)
    probabilities = np.stack([1 - sharp, sharp], axis=1)
    folds = [
        FoldResult(k, {}, 300, 100, 0.0, test=tuple(range(k, 400, 4)), probabilities=probabilities[k::4])
        for k in range(4)
    ]
    ran = CrossValidationResult("set", "heads", folds)
    resumed = CrossValidationResult("set", "resumed", [*folds[:3], FoldResult(3, {}, 300, 100, 0.0, resumed=True)])
    heard: list[str] = []
    records = calibration_records({"set": [ran, resumed]}, {"set": labels}, heard.append)
    expected = cross_fitted_calibration(labels, ran.out_of_fold() or [])
    assert records == {"set": {"heads": expected}}
    assert expected["ece_after"] < expected["ece_before"]
    assert any("resumed" in line and "not judged" in line for line in heard)
    assert "probabilities" not in folds[0].to_dict() and "test" not in folds[0].to_dict()
