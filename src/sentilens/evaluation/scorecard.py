"""Every score of a model's positive-class probabilities on a labelled set, each with a bootstrap
95 % interval.

The scores: ROC-AUC (of the probabilities, so independent of the threshold); accuracy, balanced
accuracy (mean of the recall of each class, so 0.5 for a constant answer on any class mix),
precision, recall and F1 of the positive class at ``threshold``; log-loss, Brier score and the
expected calibration error (:mod:`~sentilens.evaluation.calibration`) of the probabilities.

The intervals are percentile bootstrap intervals: the images are resampled with replacement
``resamples`` times (seeded), every score is recomputed on each resample, and the 2.5th and
97.5th percentiles are reported.  A resample with one class only has no ROC-AUC or balanced
accuracy and is left out of those two scores' intervals.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_curve

from sentilens.evaluation.calibration import ECE_BINS, bin_index, checked_probabilities
from sentilens.utils.bootstrap import INTERVAL_LEVEL, Interval, percentile_bounds
from sentilens.utils.errors import InvalidArgumentError

#: Score names, in report order; ``lower_is_better`` lists those where smaller is better.
SCORE_NAMES = ("roc_auc", "accuracy", "balanced_accuracy", "precision", "recall", "f1", "log_loss", "brier", "ece")
LOWER_IS_BETTER = ("log_loss", "brier", "ece")
#: Resamples of the bootstrap intervals, and their level.
BOOTSTRAP_RESAMPLES = 1000
_EPSILON = 1e-12


def weighted_scores(
    truth: np.ndarray, probability: np.ndarray, weights: np.ndarray, threshold: float, bins: int = ECE_BINS
) -> np.ndarray:
    """``(R, len(SCORE_NAMES))``: the scores with each image counted ``weights[r, i]`` times.

    One resample of the bootstrap is one row of counts, so every resample is scored at once
    (ROC-AUC from the images sorted once, ties counting one half).
    """
    is_positive = truth == 1
    w_pos, w_neg = weights * is_positive, weights * ~is_positive
    total, n_pos, n_neg = weights.sum(1), w_pos.sum(1), w_neg.sum(1)
    called = probability >= threshold
    tp, fp = (w_pos * called).sum(1), (w_neg * called).sum(1)
    tn = n_neg - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(n_pos > 0, tp / n_pos, 0.0)
        specificity = np.where(n_neg > 0, tn / n_neg, np.nan)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        order = np.argsort(probability, kind="stable")
        sorted_p = probability[order]
        starts = np.flatnonzero(np.r_[True, sorted_p[1:] != sorted_p[:-1]])
        group_pos = np.add.reduceat(w_pos[:, order], starts, axis=1)
        group_neg = np.add.reduceat(w_neg[:, order], starts, axis=1)
        below = np.cumsum(group_neg, axis=1) - group_neg
        auc = (group_pos * (below + 0.5 * group_neg)).sum(1) / (n_pos * n_neg)
        both = (n_pos > 0) & (n_neg > 0)
        clipped = np.clip(probability, _EPSILON, 1 - _EPSILON)
        surprise = np.where(is_positive, -np.log(clipped), -np.log1p(-clipped))
        index = bin_index(probability, bins)
        gap = np.zeros(len(weights))
        for number in np.unique(index):
            members = index == number
            gap += np.abs((w_pos[:, members]).sum(1) - (weights[:, members] * probability[members]).sum(1))
        scores = {
            "roc_auc": np.where(both, auc, np.nan),
            "accuracy": (tp + tn) / total,
            "balanced_accuracy": np.where(both, (recall + specificity) / 2, np.nan),
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "log_loss": (weights * surprise).sum(1) / total,
            "brier": (weights * (probability - is_positive) ** 2).sum(1) / total,
            "ece": gap / total,
        }
    return np.stack([scores[name] for name in SCORE_NAMES], axis=1)


def probability_scores(
    labels: npt.ArrayLike, positive: npt.ArrayLike, threshold: float = 0.5, bins: int = ECE_BINS
) -> dict[str, float]:
    """The scores of :data:`SCORE_NAMES` (``roc_auc`` and ``balanced_accuracy`` NaN when one class is absent).

    An image is called positive when its probability is at least ``threshold``.
    """
    truth, probability = checked_probabilities(labels, positive)
    _check_threshold(threshold)
    row = weighted_scores(truth, probability, np.ones((1, truth.size)), threshold, bins)[0]
    return {name: float(value) for name, value in zip(SCORE_NAMES, row)}


def _check_threshold(threshold: float) -> None:
    if not 0.0 <= threshold <= 1.0:
        raise InvalidArgumentError(f"the threshold must lie in [0, 1], got {threshold}")


def bootstrap_scores(
    labels: npt.ArrayLike,
    positive: npt.ArrayLike,
    threshold: float = 0.5,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    level: float = INTERVAL_LEVEL,
) -> dict[str, Interval]:
    """Each score of :func:`probability_scores` with its percentile bootstrap interval (see the
    module docstring); ``resamples=0`` gives the scores with intervals equal to them."""
    truth, probability = checked_probabilities(labels, positive)
    point = probability_scores(truth, probability, threshold)
    if resamples < 0:
        raise InvalidArgumentError(f"resamples must be at least 0, got {resamples}")
    if resamples == 0:
        return {name: Interval(value, value, value) for name, value in point.items()}
    rng = np.random.default_rng(seed)
    intervals: dict[str, list[np.ndarray]] = {name: [] for name in SCORE_NAMES}
    for start in range(0, resamples, 200):  # 200 resamples at a time bound the memory
        count = min(200, resamples - start)
        picks = rng.integers(0, truth.size, (count, truth.size))
        weights = np.zeros((count, truth.size))
        np.add.at(weights, (np.arange(count)[:, None], picks), 1.0)
        for column, name in enumerate(SCORE_NAMES):
            intervals[name].append(weighted_scores(truth, probability, weights, threshold)[:, column])
    result = {}
    for name in SCORE_NAMES:
        low, high = percentile_bounds(np.concatenate(intervals[name]), level)
        result[name] = Interval(point[name], low, high)
    return result


def roc_points(labels: npt.ArrayLike, positive: npt.ArrayLike) -> dict[str, list[float]]:
    """The ROC curve: false- and true-positive rates at every distinct threshold."""
    truth, probability = checked_probabilities(labels, positive)
    fpr, tpr, _ = roc_curve(truth == 1, probability)
    return {"false_positive_rate": fpr.tolist(), "true_positive_rate": tpr.tolist()}
