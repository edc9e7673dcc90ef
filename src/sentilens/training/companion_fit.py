"""Fit a companion network's read-out: a standardised logistic regression on its pooled features.

The companion (:class:`~sentilens.models.companion.Companion`) is frozen ImageNet weights; what
training fits is a linear read-out of its pooled last map, after the heads and independently of
them.  The recipe is the one measured by nested cross-validation (BENCHMARKS.md, "Recipes for the
default model"): features averaged over the centre and mirror views, standardised, and
scikit-learn's logistic regression with ``C`` chosen among :data:`COMPANION_CS` by 3-fold
cross-validation on the training images only.  scikit-learn fits it (well-kept, exact, a second
on a CPU); the fitted numbers are then copied into the torch read-out, so prediction, OpenVINO and
the explanations run the companion as any other layer.

The pooled features come from the on-disk feature store (:func:`~sentilens.training.feature_store.block_features`),
computed on the crops the main backbone reads, so the companion is fitted on exactly what it sees
at prediction time and a second training run reads them from disk.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from sklearn.linear_model import LogisticRegressionCV
from sklearn.preprocessing import StandardScaler

from sentilens.data.choices import OnError
from sentilens.models import Architecture, create_backbone
from sentilens.models.backbones import DEFAULT_WEIGHTS, backbone_spec
from sentilens.models.companion import Companion
from sentilens.training.feature_store import POOLED, block_features
from sentilens.training.frozen_pass import FINAL, VIEWS
from sentilens.utils.errors import InvalidArgumentError

#: Candidate inverse regularisation strengths of the read-out (those of the measured recipe).
COMPANION_CS = (0.001, 0.003, 0.01, 0.03, 0.1)
#: Folds of the training images on which ``C`` is chosen.
INNER_FOLDS = 3


@dataclass(frozen=True)
class ReadOut:
    """A fitted read-out: ``softmax(weight @ ((x - mean) / scale) + bias)``.

    ``weight`` is ``(2, C)`` and ``bias`` ``(2,)``: a logistic regression's score ``z`` split as
    logits ``(-z / 2, z / 2)``, whose softmax is ``(1 - sigmoid(z), sigmoid(z))``.
    """

    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
    c: float

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """``(N, 2)`` class probabilities of pooled features ``(N, C)``."""
        logits = ((features - self.mean) / self.scale) @ self.weight.T + self.bias
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        result: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
        return result

    def install(self, companion: Companion) -> None:
        """Copy the read-out into a companion's standardisation and linear layer."""
        companion.set_read_out(
            *(torch.as_tensor(a, dtype=torch.float32) for a in (self.mean, self.scale, self.weight, self.bias))
        )


def fit_read_out(features: np.ndarray, labels: npt.ArrayLike, cs: Sequence[float] = COMPANION_CS) -> ReadOut:
    """The standardised logistic regression of two-class ``labels`` on ``features`` ``(N, C)``,
    ``C`` chosen among ``cs`` by :data:`INNER_FOLDS`-fold cross-validation on these rows."""
    truth = np.asarray(labels).astype(int)
    if set(np.unique(truth)) != {0, 1}:
        raise InvalidArgumentError("the companion's read-out needs images of both classes")
    scaler = StandardScaler().fit(features)
    regression = LogisticRegressionCV(Cs=list(cs), cv=INNER_FOLDS, max_iter=5000)
    with warnings.catch_warnings():  # scikit-learn 1.9 announces a change of C_'s shape
        warnings.simplefilter("ignore", FutureWarning)
        regression.fit(scaler.transform(features), truth)
    half = regression.coef_[0] / 2.0
    return ReadOut(
        mean=np.asarray(scaler.mean_, dtype=np.float64),
        scale=np.asarray(scaler.scale_, dtype=np.float64),
        weight=np.stack([-half, half]),
        bias=np.array([-regression.intercept_[0] / 2.0, regression.intercept_[0] / 2.0]),
        c=float(np.ravel(regression.C_)[0]),
    )


def companion_features(
    architecture: Architecture,
    paths: Sequence[Path],
    images: torch.Tensor | None = None,
    views: Sequence[str] = VIEWS,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    on_error: OnError | str = OnError.fail,
) -> np.ndarray:
    """``(N, C)`` pooled last map of the companion of ``architecture`` for each image of ``paths``,
    averaged over ``views``, on the main backbone's crops (``images``, decoded if None).

    The features come from the on-disk store and are computed (and stored) only where missing.
    """
    if architecture.companion is None:
        raise InvalidArgumentError("the architecture has no companion network")
    backbone = create_backbone(architecture.companion, DEFAULT_WEIGHTS)
    size = backbone_spec(architecture.backbone).input_size
    stored = block_features(
        backbone, paths, views, images=images, batch_size=batch_size, device=device, on_error=on_error, size=size
    )
    if len(stored.kept) != len(paths):
        raise InvalidArgumentError(f"{len(paths) - len(stored.kept)} images could not be decoded for the companion")
    averaged: np.ndarray = np.mean([stored.values[view][POOLED][FINAL].numpy() for view in views], axis=0)
    return averaged
