"""k-fold cross-validation of a training config (and of the logistic-regression baseline).

Frozen blocks run once for the whole dataset (their weights are the same pretrained ones in
every fold); each fold then trains fresh heads and trainable blocks on its training images and
scores the held-out fold.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..data import Fold, LabelledImages, content_groups, grouped_stratified_folds
from ..data.store import decode_all
from ..training import TrainConfig, ViewCache, boundary_stage, build_model, build_view_cache, fit, predict_cached
from ..training.cache import FINAL
from ..training.trainer import resolve_device
from .metrics import binary_metrics, summarise


@dataclass
class FoldResult:
    """Scores of one held-out fold."""

    number: int
    metrics: dict[str, float]
    n_train: int
    n_test: int
    seconds: float


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


def make_folds(dataset: LabelledImages, n_splits: int = 5, seed: int = 0) -> list[Fold]:
    """Stratified folds with identical images kept together."""
    dataset.require_all_classes()
    return grouped_stratified_folds(dataset.labels, content_groups(dataset.paths), n_splits, seed)


def prepare_cache(dataset: LabelledImages, config: TrainConfig) -> ViewCache:
    """Decode the dataset once and run its frozen blocks once per view."""
    template = build_model(config)
    images = decode_all(dataset.paths, template.backbone.input_size)
    dtype = torch.bfloat16 if config.cache_dtype == "bfloat16" else torch.float32
    return build_view_cache(
        template.backbone,
        images,
        template.taps,
        boundary_stage(config, template),
        batch_size=config.batch_size,
        device=resolve_device(config.device),
        dtype=dtype,
        recompute=config.frozen_blocks == "recompute",
    )


def cross_validate(
    dataset: LabelledImages,
    config: TrainConfig,
    n_splits: int = 5,
    seed: int = 0,
    cache: ViewCache | None = None,
    model_name: str | None = None,
) -> CrossValidationResult:
    """Train and score ``config`` on each fold; ``cache`` may be given to share frozen work."""
    began = time.perf_counter()
    folds = make_folds(dataset, n_splits, seed)
    cache = cache if cache is not None else prepare_cache(dataset, config)
    labels = np.asarray(dataset.labels)
    results = []
    for fold in folds:
        fold_began = time.perf_counter()
        model = build_model(config)
        fit(model, cache, fold.train, labels[list(fold.train)], config, description=f"fold {fold.number + 1}/{n_splits}")
        probabilities = predict_cached(model, cache, fold.test, config.predict_views, precision=config.precision)
        metrics = binary_metrics(labels[list(fold.test)], probabilities.argmax(axis=1))
        results.append(FoldResult(fold.number, metrics, len(fold.train), len(fold.test), time.perf_counter() - fold_began))
    return CrossValidationResult(
        dataset=dataset.name,
        model=model_name or describe(config),
        folds=results,
        config=config.to_dict(),
        seconds=time.perf_counter() - began,
    )


def cross_validate_logistic(
    dataset: LabelledImages, cache: ViewCache, n_splits: int = 5, seed: int = 0, c: float = 1.0
) -> CrossValidationResult:
    """The floor: logistic regression on the frozen pooled features of the centre view."""
    if cache.boundary is not None or cache.recompute:
        raise ValueError("the logistic baseline needs a frozen-mode cache (pooled final features)")
    began = time.perf_counter()
    features = cache.pooled["centre"][FINAL].numpy()
    labels = np.asarray(dataset.labels)
    results = []
    for fold in make_folds(dataset, n_splits, seed):
        fold_began = time.perf_counter()
        classifier = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
        classifier.fit(features[list(fold.train)], labels[list(fold.train)])
        predictions = classifier.predict(features[list(fold.test)])
        metrics = binary_metrics(labels[list(fold.test)], predictions)
        results.append(FoldResult(fold.number, metrics, len(fold.train), len(fold.test), time.perf_counter() - fold_began))
    return CrossValidationResult(dataset.name, "logistic regression (frozen pooled)", results, {"C": c},
                                 time.perf_counter() - began)


def describe(config: TrainConfig) -> str:
    """A short label such as ``inception_v3 frozen, aux 6b+6c+6e``."""
    taps = "+".join(config.taps) if config.taps is not None else "default taps"
    mode = config.mode if config.mode == "frozen" else f"finetune from {config.trainable_from or 'input'}"
    heads = f"aux {taps}" if config.taps != () else "no aux"
    return f"{config.backbone} {mode}, {heads}"
