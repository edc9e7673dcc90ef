"""Precision, recall, F1 and accuracy with "positive" (label 1) as the positive class."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sentilens.utils.errors import InvalidArgumentError

METRIC_NAMES = ("precision", "recall", "f1", "accuracy")


def binary_metrics(y_true: npt.ArrayLike, y_pred: npt.ArrayLike, positive: int = 1) -> dict[str, float]:
    """The paper's four metrics from a confusion count; 0.0 where a ratio has no denominator."""
    truth = np.asarray(y_true) == positive
    predicted = np.asarray(y_pred) == positive
    if truth.shape != predicted.shape:
        raise InvalidArgumentError(f"{truth.shape[0]} labels but {predicted.shape[0]} predictions")
    if truth.size == 0:
        raise InvalidArgumentError("no predictions to score")
    tp = int(np.sum(truth & predicted))
    fp = int(np.sum(~truth & predicted))
    fn = int(np.sum(truth & ~predicted))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = float(np.mean(truth == predicted))
    return {"precision": precision, "recall": recall, "f1": f1, "accuracy": accuracy}


def summarise(per_fold: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and (population) standard deviation of each metric over folds."""
    return {
        name: {
            "mean": float(np.mean([fold[name] for fold in per_fold])),
            "std": float(np.std([fold[name] for fold in per_fold])),
        }
        for name in METRIC_NAMES
    }
