"""k-fold cross-validation of a training config, and of the logistic-regression baseline.

Both are strategies for the one fold loop (:func:`~sentilens.evaluation.protocol.run_folds`).
Frozen blocks run once for the whole dataset (their weights are the same pretrained ones in every
fold); each fold then trains fresh heads and trainable blocks on its training images and scores
the held-out fold.  The baseline fits a logistic regression on the frozen pooled features instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sentilens.data import Fold, LabelledImages
from sentilens.evaluation.companion import with_companion
from sentilens.evaluation.protocol import CrossValidationResult, FoldOutcome, fold_seed, run_folds
from sentilens.models import SentimentModel, build_model
from sentilens.training import FrozenOutputs, HeadsJob, TrainConfig, fit, fit_heads, predict_cached, prepare_cache
from sentilens.training.frozen_pass import FINAL
from sentilens.utils.errors import InvalidArgumentError


def train_and_predict(
    cache: FrozenOutputs,
    config: TrainConfig,
    train: Sequence[int],
    test: Sequence[int],
    labels: np.ndarray,
    seed: int,
    description: str,
) -> tuple[SentimentModel, np.ndarray]:
    """A fresh model of ``config`` trained on ``train``, and its probabilities for ``test``; ``seed``
    seeds its heads' initialisation and its training (:func:`~sentilens.training.fit`)."""
    torch.manual_seed(seed)
    model = build_model(config.architecture)
    fit(model, cache, train, labels[list(train)], config, description=description, seed=seed)
    return model, predict_cached(model, cache, test, config.predict_views, precision=config.precision)


@dataclass
class HeadsStrategy:
    """Fresh heads (and trainable blocks) of ``config`` trained on each fold's training images.

    ``cache`` may be given to share frozen work; otherwise :meth:`prepare` makes it.  On a frozen
    cache of pooled features the heads of every fold to run train together in :meth:`prepare`
    (:func:`~sentilens.training.fit_heads`: each fold exactly as alone, from its own seed), so a
    fold's ``seconds`` then counts only its prediction and scoring; the run's total counts all.
    """

    dataset: LabelledImages
    config: TrainConfig
    cache: FrozenOutputs | None = None
    model_name: str | None = None
    trained: dict[int, SentimentModel] = field(default_factory=dict, init=False, repr=False)

    @property
    def name(self) -> str:
        return self.model_name or describe(self.config)

    @property
    def record(self) -> dict[str, Any]:
        return self.config.to_dict()

    def prepare(self, folds: Sequence[Fold], n_folds: int, seed: int) -> None:
        cache = self.frozen()
        if cache.boundary is not None or cache.recompute:
            return
        labels = np.asarray(self.dataset.labels)
        shared = build_model(self.config.architecture)
        companion = shared.companion.backbone if shared.companion is not None else None
        jobs = []
        for fold in folds:
            torch.manual_seed(fold_seed(seed, fold.number))
            model = build_model(self.config.architecture, backbone=shared.backbone, companion_backbone=companion)
            jobs.append(HeadsJob(model, fold.train, labels[list(fold.train)], fold_seed(seed, fold.number)))
        numbers = ", ".join(str(fold.number + 1) for fold in folds)
        fit_heads(jobs, cache, self.config, description=f"folds {numbers} of {n_folds}")
        self.trained.update({fold.number: job.model for fold, job in zip(folds, jobs)})

    def frozen(self) -> FrozenOutputs:
        """The cache the folds train from, made by one frozen pass the first time it is needed."""
        if self.cache is None:
            self.cache = prepare_cache(self.dataset, self.config)
        return self.cache

    def __call__(self, fold: Fold, n_folds: int, seed: int) -> FoldOutcome:
        model = self.trained.pop(fold.number, None)
        if model is None:
            model, probabilities = train_and_predict(
                self.frozen(),
                self.config,
                fold.train,
                fold.test,
                np.asarray(self.dataset.labels),
                fold_seed(seed, fold.number),
                f"fold {fold.number + 1}/{n_folds}",
            )
        else:
            probabilities = predict_cached(
                model, self.frozen(), fold.test, self.config.predict_views, precision=self.config.precision
            )
        return FoldOutcome(probabilities, model=model, config=self.config)


def cross_validate(
    dataset: LabelledImages,
    config: TrainConfig,
    n_splits: int = 5,
    seed: int = 0,
    cache: FrozenOutputs | None = None,
    model_name: str | None = None,
    run_dir: str | Path | None = None,
) -> CrossValidationResult:
    """Train and score ``config`` on each fold; ``cache`` may be given to share frozen work.

    With ``run_dir`` every finished fold is kept there (scores and model) and folds found there
    from an earlier, interrupted run of the same config, seed, folds and data are reused; a
    folder from a different run raises :class:`~sentilens.evaluation.rundir.RunDirError`.
    """
    strategy = with_companion(HeadsStrategy(dataset, config, cache, model_name), dataset, config)
    return run_folds(dataset, strategy, n_splits, seed, run_dir)


def pooled_features(cache: FrozenOutputs, blocks: Sequence[str], views: Sequence[str]) -> np.ndarray:
    """``(N, sum of channels)``: each block's pooled features averaged over ``views``, concatenated."""
    return np.concatenate(
        [np.mean([cache.pooled[view][block].numpy() for view in views], axis=0) for block in blocks], axis=1
    )


def logistic_scores(
    features: np.ndarray,
    labels: np.ndarray,
    train: Sequence[int],
    test: Sequence[int],
    c: float = 1.0,
    inner_cs: Sequence[float] = (),
) -> tuple[np.ndarray, dict[str, float]]:
    """Class probabilities of ``test`` from a standardised logistic regression fitted on ``train``.

    With ``inner_cs``, ``C`` is chosen among them by 3-fold cross-validation on ``train`` only
    (scikit-learn's ``LogisticRegressionCV``) and returned as ``{"C": ...}``.
    """
    estimator = (
        LogisticRegressionCV(Cs=list(inner_cs), cv=3, max_iter=5000)
        if inner_cs
        else LogisticRegression(C=c, max_iter=5000)
    )
    classifier = make_pipeline(StandardScaler(), estimator)
    with warnings.catch_warnings():  # scikit-learn 1.9 announces a change of C_'s shape
        warnings.simplefilter("ignore", FutureWarning)
        classifier.fit(features[list(train)], labels[list(train)])
    chosen = {"C": float(np.ravel(estimator.C_)[0])} if inner_cs else {}
    return classifier.predict_proba(features[list(test)]), chosen


@dataclass
class LogisticStrategy:
    """A standardised logistic regression on fixed ``features`` ``(N, D)``, fitted on each fold's
    training rows; ``C`` is ``c``, or chosen among ``inner_cs`` on the training rows only."""

    features: np.ndarray
    labels: np.ndarray
    name: str
    record: dict[str, Any]
    c: float = 1.0
    inner_cs: Sequence[float] = ()

    def prepare(self, folds: Sequence[Fold], n_folds: int, seed: int) -> None:
        """Nothing: the features are computed before the loop."""

    def __call__(self, fold: Fold, n_folds: int, seed: int) -> FoldOutcome:
        probabilities, chosen = logistic_scores(
            self.features, self.labels, fold.train, fold.test, self.c, self.inner_cs
        )
        return FoldOutcome(probabilities, details=chosen)


def cross_validate_logistic(
    dataset: LabelledImages,
    cache: FrozenOutputs,
    n_splits: int = 5,
    seed: int = 0,
    c: float = 1.0,
    blocks: Sequence[str] = (FINAL,),
    views: Sequence[str] = ("centre",),
    inner_cs: Sequence[float] = (),
) -> CrossValidationResult:
    """The floor: logistic regression on frozen pooled features (default: the last block's, centre view).

    ``blocks`` are concatenated (each standardised), ``views`` averaged.  With ``inner_cs`` the
    regularisation ``C`` is chosen among them by 3-fold cross-validation on each training fold
    only (scikit-learn's ``LogisticRegressionCV``); otherwise ``c`` is used.
    """
    if cache.boundary is not None or cache.recompute:
        raise InvalidArgumentError("the logistic baseline needs a frozen-mode cache (pooled final features)")
    name = "logistic regression (frozen pooled)"
    if tuple(blocks) != (FINAL,) or tuple(views) != ("centre",):
        name = f"logistic regression ({'+'.join(blocks)}; {'+'.join(views)})"
    strategy = LogisticStrategy(
        pooled_features(cache, blocks, views),
        np.asarray(dataset.labels),
        name,
        {"C": list(inner_cs) if inner_cs else c, "blocks": list(blocks), "views": list(views)},
        c,
        inner_cs,
    )
    return run_folds(dataset, strategy, n_splits, seed)


def describe(config: TrainConfig) -> str:
    """A short label such as ``inception_v3 frozen, aux 6b+6c+6e``."""
    blocks = "+".join(config.blocks) if config.blocks is not None else "default blocks"
    mode = config.mode if config.mode == "frozen" else f"finetune from {config.trainable_from or 'input'}"
    heads = f"aux {blocks}" if config.blocks != () else "no aux"
    return f"{config.backbone} {mode}, {heads}"
