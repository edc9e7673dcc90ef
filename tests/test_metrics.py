"""Our metrics agree with scikit-learn's, with "positive" (1) as the positive class."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from sentilens.evaluation import binary_metrics, summarise


@pytest.mark.parametrize("seed", range(5))
def test_metrics_agree_with_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, 200)
    predicted = np.where(rng.random(200) < 0.7, truth, 1 - truth)
    ours = binary_metrics(truth, predicted)
    assert ours["precision"] == pytest.approx(precision_score(truth, predicted))
    assert ours["recall"] == pytest.approx(recall_score(truth, predicted))
    assert ours["f1"] == pytest.approx(f1_score(truth, predicted))
    assert ours["accuracy"] == pytest.approx(accuracy_score(truth, predicted))


def test_no_positive_predictions_scores_zero_not_nan() -> None:
    metrics = binary_metrics([1, 0, 1], [0, 0, 0])
    assert metrics["precision"] == 0.0 and metrics["f1"] == 0.0
    assert metrics["accuracy"] == pytest.approx(1 / 3)


def test_summary_is_mean_and_std() -> None:
    folds = [binary_metrics([1, 0], [1, 0]), binary_metrics([1, 0], [0, 0])]
    summary = summarise(folds)
    assert summary["accuracy"]["mean"] == pytest.approx(0.75)
    assert summary["accuracy"]["std"] == pytest.approx(0.25)
