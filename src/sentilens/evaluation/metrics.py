"""Precision, recall, F1 and accuracy with "positive" (label 1) as the positive class, and ROC-AUC
where the positive-class probabilities are given."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score

from sentilens.utils.errors import InvalidArgumentError

METRIC_NAMES = ("precision", "recall", "f1", "accuracy")
#: The paper's four metrics and the area under the ROC curve (ours only: the paper has none).
ALL_METRIC_NAMES = (*METRIC_NAMES, "roc_auc")


def binary_metrics(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike, positive: int = 1, scores: npt.ArrayLike | None = None
) -> dict[str, float]:
    """The paper's four metrics from a confusion count; 0.0 where a ratio has no denominator.

    With ``scores`` (each image's probability of ``positive``) also ``roc_auc``, when both classes
    occur in ``y_true``.
    """
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
    metrics = {"precision": precision, "recall": recall, "f1": f1, "accuracy": accuracy}
    if scores is not None and 0 < truth.sum() < truth.size:
        metrics["roc_auc"] = float(roc_auc_score(truth, np.asarray(scores)))
    return metrics


def summarise(per_fold: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and (population) standard deviation over folds of each metric that every fold has."""
    names = [n for n in ALL_METRIC_NAMES if per_fold and all(n in fold for fold in per_fold)]
    return {
        name: {
            "mean": float(np.mean([fold[name] for fold in per_fold])),
            "std": float(np.std([fold[name] for fold in per_fold])),
        }
        for name in names
    }
