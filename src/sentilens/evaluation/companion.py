"""Cross-validation of a recipe with a companion network: its read-out fitted inside each fold.

The heads of a fold are trained from the backbone's cached features, which the companion does not
read; so any heads strategy runs as before and :class:`WithCompanion` then fits the companion's
read-out on the fold's training images only (:func:`~sentilens.training.companion_fit.fit_read_out`),
mixes its probabilities for the test images into the heads' vote with the recipe's weight, exactly
as :meth:`~sentilens.models.SentimentModel.fuse` mixes them, and installs the read-out in the
fold's model, so that a kept fold model predicts what was scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sentilens.data import Fold, LabelledImages
from sentilens.evaluation.protocol import FoldOutcome, FoldStrategy
from sentilens.training import TrainConfig
from sentilens.training.companion_fit import companion_features, fit_read_out


@dataclass
class WithCompanion:
    """``inner``'s fold probabilities mixed with a companion read-out fitted on the fold's training images.

    Attributes:
        inner: the strategy that trains the heads (plain or nested).
        features: ``(N, C)`` the companion's pooled features of every image of the dataset.
        labels: the class of every image.
        weight: the companion's share of the fused probabilities.
        companion: its registry name (for the result's label).
    """

    inner: FoldStrategy
    features: np.ndarray
    labels: np.ndarray
    weight: float
    companion: str

    @property
    def name(self) -> str:
        return f"{self.inner.name} + {self.companion}"

    @property
    def record(self) -> dict[str, Any]:
        return self.inner.record | {"companion": self.companion, "companion_weight": self.weight}

    def prepare(self, folds: Sequence[Fold], n_folds: int, seed: int) -> None:
        self.inner.prepare(folds, n_folds, seed)

    def __call__(self, fold: Fold, n_folds: int, seed: int) -> FoldOutcome:
        outcome = self.inner(fold, n_folds, seed)
        train, test = list(fold.train), list(fold.test)
        read_out = fit_read_out(self.features[train], self.labels[train])
        mixed = (1.0 - self.weight) * outcome.probabilities + self.weight * read_out.probabilities(self.features[test])
        if outcome.model is not None and outcome.model.companion is not None:
            read_out.install(outcome.model.companion)
        details = outcome.details | {"companion_C": read_out.c}
        return FoldOutcome(mixed, details, outcome.model, outcome.config)


def with_companion(strategy: FoldStrategy, dataset: LabelledImages, config: TrainConfig) -> FoldStrategy:
    """``strategy`` wrapped in :class:`WithCompanion` when ``config`` names a companion, else itself."""
    if config.companion is None:
        return strategy
    features = companion_features(config.architecture, dataset.paths, batch_size=config.batch_size)
    return WithCompanion(strategy, features, np.asarray(dataset.labels), config.companion_weight, config.companion)
