"""Whether probabilities mean what they say: expected calibration error, reliability bins, the
temperature that calibrates them, and the shift to another positive rate.

All functions take the labels (1 = positive) and each image's probability of the positive class,
except :func:`fit_temperature`, which takes the class probabilities of a model's fused vote.

- **Expected calibration error** (ECE): the images are put in ``bins`` equal-width bins of their
  positive-class probability; ECE is the mean over images of ``|positive rate of its bin - mean
  probability of its bin|``.  0 is perfect; a model that says 0.8 where 60 % are positive is off
  by 0.2 on those images.  (Some papers bin the predicted class's confidence instead; for two
  classes both read the same reliability diagram.)
- **Temperature scaling** (Guo et al., 2017): one number ``T``, chosen to minimise the log-loss of
  ``softmax(log p / T)`` on predictions the model did not train on, so the order of the images is
  kept and only their confidence changes.
- **Prior shift**: a model trained where a fraction ``r`` of images is positive, used where the
  expected fraction is ``prior``, has its log-odds moved by ``logit(prior) - logit(r)`` (Bayes'
  rule with the class-conditional image distributions unchanged).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch
from scipy.optimize import minimize_scalar

from sentilens.data import LabelledImages
from sentilens.evaluation.crossval import cross_validate
from sentilens.evaluation.nested import NestedSettings, nested_cross_validate
from sentilens.evaluation.protocol import CrossValidationResult
from sentilens.models import temper
from sentilens.training import FrozenOutputs, TrainConfig
from sentilens.utils.errors import InvalidArgumentError

#: Equal-width bins of the positive-class probability for ECE and the reliability diagram.
ECE_BINS = 15
#: The temperatures searched (log-uniformly bounded): far beyond any a trained model needs.
TEMPERATURE_RANGE = (0.05, 20.0)
_EPSILON = 1e-12


def checked_probabilities(labels: npt.ArrayLike, positive: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Labels as ints and positive-class probabilities as floats, refused unless one of each per image."""
    truth = np.asarray(labels).astype(int)
    probability = np.asarray(positive, dtype=float)
    if truth.shape != probability.shape or truth.ndim != 1:
        raise InvalidArgumentError(f"{truth.shape} labels but {probability.shape} probabilities")
    if truth.size == 0:
        raise InvalidArgumentError("no probabilities to score")
    return truth, probability


def bin_index(positive: np.ndarray, bins: int = ECE_BINS) -> np.ndarray:
    """The bin of each probability: ``[0, 1/bins)``, ..., ``[(bins-1)/bins, 1]`` (1 in the last)."""
    index: np.ndarray = np.minimum((positive * bins).astype(int), bins - 1)
    return index


def reliability_bins(labels: npt.ArrayLike, positive: npt.ArrayLike, bins: int = ECE_BINS) -> list[dict[str, float]]:
    """One row per non-empty bin: its bounds, image count, mean probability and positive rate."""
    truth, probability = checked_probabilities(labels, positive)
    index = bin_index(probability, bins)
    rows = []
    for number in range(bins):
        members = index == number
        if members.any():
            rows.append(
                {
                    "lower": number / bins,
                    "upper": (number + 1) / bins,
                    "count": int(members.sum()),
                    "mean_probability": float(probability[members].mean()),
                    "positive_rate": float(truth[members].mean()),
                }
            )
    return rows


def expected_calibration_error(labels: npt.ArrayLike, positive: npt.ArrayLike, bins: int = ECE_BINS) -> float:
    """ECE of the positive-class probabilities (see the module docstring)."""
    truth, probability = checked_probabilities(labels, positive)
    index = bin_index(probability, bins)
    counts = np.bincount(index, minlength=bins)
    gap = np.abs(np.bincount(index, truth, bins) - np.bincount(index, probability, bins))
    return float(gap[counts > 0].sum() / truth.size)


def fit_temperature(labels: npt.ArrayLike, probabilities: npt.ArrayLike) -> float:
    """The temperature ``T`` that minimises the log-loss of ``softmax(log p / T)``.

    Args:
        labels: the true class of each image.
        probabilities: ``(N, classes)`` class probabilities, as the model fuses them (uncalibrated).
    """
    truth = torch.as_tensor(np.asarray(labels).astype(np.int64))
    fused = torch.as_tensor(np.asarray(probabilities, dtype=np.float64))
    if fused.ndim != 2 or len(fused) != len(truth) or len(truth) == 0:
        raise InvalidArgumentError(f"{len(truth)} labels but probabilities of shape {tuple(fused.shape)}")
    log_p = fused.clamp_min(_EPSILON).log()

    def loss(log_t: float) -> float:
        return float(torch.nn.functional.cross_entropy(log_p / np.exp(log_t), truth))

    low, high = np.log(TEMPERATURE_RANGE[0]), np.log(TEMPERATURE_RANGE[1])
    found = minimize_scalar(loss, bounds=(low, high), method="bounded", options={"xatol": 1e-5})
    return float(np.exp(found.x))


def tempered_positive(probabilities: npt.ArrayLike, temperature: float) -> np.ndarray:
    """The positive-class probability of ``(N, classes)`` probabilities after ``temperature``."""
    scaled = temper(torch.as_tensor(np.asarray(probabilities, dtype=np.float64)), temperature)
    return scaled[:, 1].numpy()


def logit(probability: npt.ArrayLike) -> np.ndarray:
    """``log(p / (1 - p))``, with ``p`` kept ``1e-12`` inside (0, 1)."""
    p = np.clip(np.asarray(probability, dtype=float), _EPSILON, 1 - _EPSILON)
    return np.asarray(np.log(p) - np.log1p(-p))


def shift_prior(positive: npt.ArrayLike, prior: float, training_rate: float) -> np.ndarray:
    """Positive-class probabilities moved from a training positive rate to an expected one
    (``prior``): the log-odds change by ``logit(prior) - logit(training_rate)``."""
    for name, value in (("prior", prior), ("training positive rate", training_rate)):
        if not 0.0 < value < 1.0:
            raise InvalidArgumentError(f"the {name} must lie strictly between 0 and 1, got {value}")
    shifted = logit(positive) + logit(prior) - logit(training_rate)
    return np.asarray(1.0 / (1.0 + np.exp(-shifted)))


def cross_fitted_calibration(
    labels: npt.ArrayLike, folds: Sequence[tuple[Sequence[int], np.ndarray]], bins: int = ECE_BINS
) -> dict[str, object]:
    """ECE of out-of-fold predictions before and after temperature scaling, both held out.

    ``folds``: each fold's test indices and its model's ``(n_test, classes)`` probabilities.  Each
    fold's temperature is fitted on the other folds' out-of-fold predictions only, then applied to
    its own, so the "after" ECE scores a temperature that never saw the images it calibrates
    (as a shipped model's temperature, fitted inside training, never sees the user's images).
    """
    truth = np.asarray(labels).astype(int)
    indices = np.concatenate([np.asarray(test, dtype=int) for test, _ in folds])
    if len(np.unique(indices)) != len(indices):
        raise InvalidArgumentError("the folds' test images overlap")
    before = np.concatenate([probabilities[:, 1] for _, probabilities in folds])
    after_parts, temperatures = [], []
    for number, (_, probabilities) in enumerate(folds):
        others = [fold for other, fold in enumerate(folds) if other != number]
        other_indices = np.concatenate([np.asarray(test, dtype=int) for test, _ in others])
        other_probabilities = np.concatenate([p for _, p in others])
        temperature = fit_temperature(truth[other_indices], other_probabilities)
        temperatures.append(temperature)
        after_parts.append(tempered_positive(probabilities, temperature))
    after = np.concatenate(after_parts)
    return {
        "ece_before": expected_calibration_error(truth[indices], before, bins),
        "ece_after": expected_calibration_error(truth[indices], after, bins),
        "fold_temperatures": temperatures,
        "bins": bins,
        "images": int(len(indices)),
    }


def pooled_out_of_fold(result: CrossValidationResult) -> tuple[np.ndarray, np.ndarray]:
    """The test indices and ``(N, classes)`` probabilities of every fold of ``result``, pooled."""
    folds = result.out_of_fold()
    if folds is None:
        raise InvalidArgumentError("calibration needs every fold's predictions; a resumed fold has none")
    return np.concatenate([np.asarray(test, dtype=int) for test, _ in folds]), np.concatenate([p for _, p in folds])


def out_of_fold_temperature(
    dataset: LabelledImages,
    config: TrainConfig,
    cache: FrozenOutputs,
    folds: int,
    seed: int,
    nested: NestedSettings | None = None,
) -> tuple[float, dict[str, object]]:
    """The temperature of a model trained with ``config`` on all of ``dataset``, fitted on the
    out-of-fold predictions of the same recipe over ``folds`` folds of ``dataset`` (with
    ``nested``, the blocks are chosen inside each fold, as ``train --blocks auto`` chooses them).

    Returns the temperature and a record: the folds, the out-of-fold ECE before and after it
    (in-sample for "after": the held-out estimate is :func:`cross_fitted_calibration`'s), and the
    out-of-fold ROC-AUC and accuracy of the recipe.
    """
    if nested is not None:
        result = nested_cross_validate(dataset, config, cache, folds, seed, nested)
    else:
        result = cross_validate(dataset, config, folds, seed, cache=cache)
    indices, probabilities = pooled_out_of_fold(result)
    labels = np.asarray(dataset.labels)[indices]
    temperature = fit_temperature(labels, probabilities)
    record: dict[str, object] = {
        "method": "temperature scaling",
        "temperature": temperature,
        "folds": folds,
        "seed": seed,
        "out_of_fold_ece_before": expected_calibration_error(labels, probabilities[:, 1]),
        "out_of_fold_ece_after_in_sample": expected_calibration_error(
            labels, tempered_positive(probabilities, temperature)
        ),
        "cross_fitted": cross_fitted_calibration(np.asarray(dataset.labels), result.out_of_fold() or []),
        "out_of_fold_summary": result.summary,
    }
    return temperature, record
