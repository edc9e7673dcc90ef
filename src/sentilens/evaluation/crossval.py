"""k-fold cross-validation of a training config (and of the logistic-regression baseline).

Frozen blocks run once for the whole dataset (their weights are the same pretrained ones in
every fold); each fold then trains fresh heads and trainable blocks on its training images and
scores the held-out fold.  Each fold's randomness comes from (seed, fold number) alone, so a fold
gives the same model whether it runs first, last, or after a resume from a run folder.
"""

from __future__ import annotations

import time
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

from sentilens.data import Fold, LabelledImages, content_digests, make_folds
from sentilens.evaluation.metrics import binary_metrics, summarise
from sentilens.evaluation.rundir import RunDirectory, dataset_digest, indices_digest
from sentilens.models import SentimentModel, build_model, save_checkpoint
from sentilens.training import TrainConfig, ViewCache, boundary_stage, fit, predict_cached, prepare_cache
from sentilens.training.cache import FINAL
from sentilens.utils.errors import InvalidArgumentError
from sentilens.utils.hashing import json_digest
from sentilens.utils.version import __version__


@dataclass
class FoldResult:
    """Scores of one held-out fold (``details``: what a nested run chose in it)."""

    number: int
    metrics: dict[str, float]
    n_train: int
    n_test: int
    seconds: float
    indices_digest: str = ""
    resumed: bool = False
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class CrossValidationResult:
    """Per-fold and summary scores of one model on one dataset."""

    dataset: str
    model: str
    folds: list[FoldResult]
    config: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def summary(self) -> dict[str, dict[str, float]]:
        return summarise([f.metrics for f in self.folds])

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "model": self.model,
            "config": self.config,
            "seconds": self.seconds,
            "summary": self.summary,
            "folds": [vars(f) for f in self.folds],
        }


def fold_seed(seed: int, number: int) -> int:
    """The seed of fold ``number``: a function of (seed, number) only."""
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


def cross_validate(
    dataset: LabelledImages,
    config: TrainConfig,
    n_splits: int = 5,
    seed: int = 0,
    cache: ViewCache | None = None,
    model_name: str | None = None,
    run_dir: str | Path | None = None,
) -> CrossValidationResult:
    """Train and score ``config`` on each fold; ``cache`` may be given to share frozen work.

    With ``run_dir`` every finished fold is kept there (scores and model) and folds found there
    from an earlier, interrupted run of the same config, seed, folds and data are reused; a
    folder from a different run raises :class:`~sentilens.evaluation.rundir.RunDirError`.
    """
    began = time.perf_counter()
    digests = content_digests(dataset.paths)
    folds = make_folds(dataset, n_splits, seed, digests)
    run = None
    if run_dir is not None:
        run = RunDirectory(
            run_dir,
            {
                "config": json_digest(config.to_dict()),
                "seed": seed,
                "n_splits": n_splits,
                "dataset": dataset_digest(dataset.labels, digests, dataset.class_names),
                "sentilens_version": __version__,
            },
        )
    results = []
    for fold in folds:
        fold_digest = indices_digest(fold.train, fold.test)
        record = run.finished(fold.number, fold_digest) if run is not None else None
        if record is not None:
            results.append(
                FoldResult(
                    fold.number,
                    record["metrics"],
                    record["n_train"],
                    record["n_test"],
                    record["seconds"],
                    fold_digest,
                    resumed=True,
                )
            )
            continue
        if cache is None:
            cache = prepare_cache(dataset, config)
        model, result = train_and_score(dataset, config, fold, cache, seed, n_splits)
        if run is not None:
            save_checkpoint(
                model,
                config.to_dict(),
                run.fold_checkpoint(fold.number),
                dataset.class_names,
                extra={"fold": fold.number, "metrics": result.metrics, "indices_digest": fold_digest},
                trained_from=boundary_stage(config, model),
            )
            run.record(fold.number, {k: v for k, v in vars(result).items() if k != "resumed"})
        results.append(result)
    return CrossValidationResult(
        dataset=dataset.name,
        model=model_name or describe(config),
        folds=results,
        config=config.to_dict(),
        seconds=time.perf_counter() - began,
    )


def train_and_score(
    dataset: LabelledImages, config: TrainConfig, fold: Fold, cache: ViewCache, seed: int, n_splits: int
) -> tuple[SentimentModel, FoldResult]:
    """A fresh model trained on ``fold.train`` and scored on ``fold.test``.

    Its randomness is seeded from (``seed``, fold number) alone, so the fold gives the same
    model wherever and in whatever order it runs (another process, another machine).
    """
    began = time.perf_counter()
    labels = np.asarray(dataset.labels)
    torch.manual_seed(fold_seed(seed, fold.number))
    model = build_model(config.architecture)
    fit(model, cache, fold.train, labels[list(fold.train)], config, description=f"fold {fold.number + 1}/{n_splits}")
    probabilities = predict_cached(model, cache, fold.test, config.predict_views, precision=config.precision)
    metrics = binary_metrics(labels[list(fold.test)], probabilities.argmax(axis=1), scores=probabilities[:, 1])
    digest = indices_digest(fold.train, fold.test)
    return model, FoldResult(fold.number, metrics, len(fold.train), len(fold.test), time.perf_counter() - began, digest)


def pooled_features(cache: ViewCache, blocks: Sequence[str], views: Sequence[str]) -> np.ndarray:
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


def cross_validate_logistic(
    dataset: LabelledImages,
    cache: ViewCache,
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
    began = time.perf_counter()
    features = pooled_features(cache, blocks, views)
    labels = np.asarray(dataset.labels)
    results = []
    for fold in make_folds(dataset, n_splits, seed):
        fold_began = time.perf_counter()
        probabilities, chosen = logistic_scores(features, labels, fold.train, fold.test, c, inner_cs)
        metrics = binary_metrics(labels[list(fold.test)], probabilities.argmax(axis=1), scores=probabilities[:, 1])
        results.append(
            FoldResult(
                fold.number,
                metrics,
                len(fold.train),
                len(fold.test),
                time.perf_counter() - fold_began,
                indices_digest(fold.train, fold.test),
                details=chosen,
            )
        )
    name = "logistic regression (frozen pooled)"
    if tuple(blocks) != (FINAL,) or tuple(views) != ("centre",):
        name = f"logistic regression ({'+'.join(blocks)}; {'+'.join(views)})"
    config = {"C": list(inner_cs) if inner_cs else c, "blocks": list(blocks), "views": list(views)}
    return CrossValidationResult(dataset.name, name, results, config, time.perf_counter() - began)


def describe(config: TrainConfig) -> str:
    """A short label such as ``inception_v3 frozen, aux 6b+6c+6e``."""
    taps = "+".join(config.taps) if config.taps is not None else "default taps"
    mode = config.mode if config.mode == "frozen" else f"finetune from {config.trainable_from or 'input'}"
    heads = f"aux {taps}" if config.taps != () else "no aux"
    return f"{config.backbone} {mode}, {heads}"
