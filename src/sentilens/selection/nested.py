"""Nested cross-validation: the blocks are chosen inside each outer fold, from its training images.

Choosing the auxiliary blocks (and any tuned setting) on the images a model is scored on flatters
it.  Here every outer fold repeats the whole choice on its own training images only:

1. **Blocks**: the linear-probe half of ``suggest-layers`` (:mod:`sentilens.selection.evidence`):
   each tap's pooled centre-view features are scored by a standardised logistic-regression probe
   over ``inner_splits`` folds of the outer-training images (grouped by content, stratified), and
   the ``k`` best taps become the head set, leaving out the backbone's last tap (the main head
   reads it already).  The NMF half of the ranking needs every image's whole map, i.e. another
   backbone pass per outer fold, so it is not used here.
2. **Auxiliary weight**: when more than one candidate is given, each is cross-validated on the
   same inner folds with the chosen blocks and the best mean inner accuracy wins (ties: the first
   listed).  With one candidate (the default, the paper's 0.1) nothing is tuned.
3. The chosen model is trained on all outer-training images and scored on the outer-test fold.

Learning rate, epochs and views are not tuned: they come from the config, fixed beforehand.
The frozen features are the pretrained backbone's, the same in every fold, so one feature cache
serves every outer and inner fold without leaking labels.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from sentilens.data import LabelledImages, content_digests, content_groups, grouped_stratified_folds, make_folds
from sentilens.evaluation.crossval import (
    CrossValidationResult,
    FoldResult,
    fold_seed,
    logistic_scores,
    pooled_features,
)
from sentilens.evaluation.metrics import binary_metrics
from sentilens.evaluation.rundir import indices_digest
from sentilens.models import DEFAULT_AUX_WEIGHT, backbone_spec, build_model
from sentilens.selection.evidence import SelectionError, probe_accuracy
from sentilens.training import TrainConfig, ViewCache, fit, predict_cached
from sentilens.training.cache import FINAL
from sentilens.utils.errors import InvalidArgumentError


@dataclass(frozen=True)
class NestedSettings:
    """How each outer fold chooses.

    Attributes:
        k: blocks in the head set (the paper chose three).
        inner_splits: folds of the outer-training images for the probe and any tuning.
        aux_weights: candidate auxiliary weights; inner cross-validation picks one when several.
        probe_c: inverse regularisation of the probe's logistic regression.
    """

    k: int = 3
    inner_splits: int = 3
    aux_weights: tuple[float, ...] = (DEFAULT_AUX_WEIGHT,)
    probe_c: float = 0.05

    def __post_init__(self) -> None:
        if self.k < 1:
            raise SelectionError(f"the head set needs at least one block, got k = {self.k}")
        if self.inner_splits < 2:
            raise SelectionError(f"inner cross-validation needs at least 2 folds, got {self.inner_splits}")
        if not self.aux_weights or any(not 0.0 <= w <= 1.0 for w in self.aux_weights):
            raise SelectionError(f"candidate auxiliary weights must lie in [0, 1], got {self.aux_weights}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "inner_splits": self.inner_splits,
            "aux_weights": list(self.aux_weights),
            "probe_c": self.probe_c,
        }


def probe_ranking(
    cache: ViewCache,
    indices: Sequence[int],
    labels: np.ndarray,
    groups: np.ndarray,
    taps: Sequence[str],
    inner_splits: int,
    seed: int,
    c: float,
) -> dict[str, float]:
    """Mean inner-fold probe accuracy of each tap, computed on the images ``indices`` only."""
    rows = np.asarray(indices)
    folds = grouped_stratified_folds(labels[rows], groups[rows], inner_splits, seed)
    return {
        tap: float(probe_accuracy(cache.pooled["centre"][tap].numpy()[rows], labels[rows], folds, c).mean())
        for tap in taps
    }


def choose_taps(scores: dict[str, float], tap_order: Sequence[str], k: int) -> tuple[str, ...]:
    """The ``k`` best-scoring taps (ties: the deeper tap first), without the last, in depth order."""
    eligible = [t for t in tap_order[:-1] if t in scores] or list(scores)
    best = sorted(eligible, key=lambda t: (-scores[t], -tap_order.index(t)))[:k]
    return tuple(t for t in tap_order if t in best)


def select_blocks(
    cache: ViewCache,
    indices: Sequence[int],
    labels: np.ndarray,
    groups: np.ndarray,
    tap_order: Sequence[str],
    settings: NestedSettings,
    seed: int,
) -> tuple[tuple[str, ...], dict[str, float]]:
    """The head set chosen from the images ``indices`` alone, and every tap's inner probe accuracy."""
    scores = probe_ranking(cache, indices, labels, groups, tap_order, settings.inner_splits, seed, settings.probe_c)
    return choose_taps(scores, tap_order, settings.k), scores


def _train_and_predict(
    cache: ViewCache, config: TrainConfig, train: Sequence[int], test: Sequence[int], labels: np.ndarray, seed: int
) -> np.ndarray:
    torch.manual_seed(seed)
    model = build_model(config.architecture)
    fit(model, cache, train, labels[list(train)], config, description="nested fold")
    return predict_cached(model, cache, test, config.predict_views, precision=config.precision)


def inner_accuracy(
    cache: ViewCache,
    config: TrainConfig,
    indices: Sequence[int],
    labels: np.ndarray,
    groups: np.ndarray,
    inner_splits: int,
    seed: int,
) -> float:
    """Mean accuracy of ``config`` over inner folds of the images ``indices``."""
    rows = np.asarray(indices)
    scores = []
    for fold in grouped_stratified_folds(labels[rows], groups[rows], inner_splits, seed):
        train, test = rows[list(fold.train)].tolist(), rows[list(fold.test)].tolist()
        probabilities = _train_and_predict(cache, config, train, test, labels, fold_seed(seed, 100 + fold.number))
        scores.append(float((probabilities.argmax(axis=1) == labels[test]).mean()))
    return float(np.mean(scores))


def nested_cross_validate(
    dataset: LabelledImages,
    config: TrainConfig,
    cache: ViewCache,
    n_splits: int = 5,
    seed: int = 0,
    settings: NestedSettings | None = None,
    model_name: str = "nested selection",
) -> CrossValidationResult:
    """Outer ``n_splits``-fold cross-validation in which each fold chooses its own blocks.

    ``cache`` is the frozen feature cache of ``dataset`` (every tap pooled, e.g. from
    :func:`~sentilens.training.prepare_cache` in frozen mode).  Each fold's choice is in its
    :attr:`~sentilens.evaluation.FoldResult.details` (``taps``, ``aux_weight``, the inner probe
    accuracy of every tap and the inner accuracy of every candidate weight).
    """
    settings = settings or NestedSettings()
    if config.mode != "frozen" or cache.boundary is not None or cache.recompute:
        raise InvalidArgumentError("nested block selection needs the frozen mode (pooled features of every tap)")
    began = time.perf_counter()
    tap_order = backbone_spec(config.backbone).blocks
    digests = content_digests(dataset.paths)
    groups = content_groups(dataset.paths, digests)
    labels = np.asarray(dataset.labels)
    results = []
    for fold in make_folds(dataset, n_splits, seed, digests):
        fold_began = time.perf_counter()
        taps, scores = select_blocks(cache, fold.train, labels, groups, tap_order, settings, seed)
        candidates = {w: replace(config, taps=taps, aux_weights=(w,) * len(taps)) for w in settings.aux_weights}
        inner = (
            {
                w: inner_accuracy(cache, c, fold.train, labels, groups, settings.inner_splits, seed)
                for w, c in candidates.items()
            }
            if len(candidates) > 1
            else {}
        )
        weight = max(inner, key=lambda w: inner[w]) if inner else settings.aux_weights[0]
        chosen = candidates[weight]
        probabilities = _train_and_predict(cache, chosen, fold.train, fold.test, labels, fold_seed(seed, fold.number))
        test_labels = labels[list(fold.test)]
        metrics = binary_metrics(test_labels, probabilities.argmax(axis=1), scores=probabilities[:, 1])
        results.append(
            FoldResult(
                fold.number,
                metrics,
                len(fold.train),
                len(fold.test),
                time.perf_counter() - fold_began,
                indices_digest(fold.train, fold.test),
                details={
                    "taps": list(taps),
                    "aux_weight": weight,
                    "probe_accuracy": scores,
                    "inner_accuracy": {str(w): a for w, a in inner.items()},
                },
            )
        )
    return CrossValidationResult(
        dataset.name,
        model_name,
        results,
        {**config.to_dict(), "taps": "auto", "aux_weights": None, "nested": settings.to_dict()},
        time.perf_counter() - began,
    )


def nested_logistic_cross_validate(
    dataset: LabelledImages,
    cache: ViewCache,
    backbone: str,
    n_splits: int = 5,
    seed: int = 0,
    settings: NestedSettings | None = None,
    views: Sequence[str] = ("centre", "mirror"),
    inner_cs: Sequence[float] = (0.003, 0.01, 0.03, 0.1),
    model_name: str = "nested selection, logistic regression on the chosen blocks",
) -> CrossValidationResult:
    """Like :func:`nested_cross_validate`, but the chosen blocks' pooled features and the last
    block's, averaged over ``views`` and concatenated, feed one logistic regression whose ``C`` is
    chosen by inner 3-fold cross-validation on the outer-training images."""
    settings = settings or NestedSettings()
    began = time.perf_counter()
    tap_order = backbone_spec(backbone).blocks
    digests = content_digests(dataset.paths)
    groups = content_groups(dataset.paths, digests)
    labels = np.asarray(dataset.labels)
    results = []
    for fold in make_folds(dataset, n_splits, seed, digests):
        fold_began = time.perf_counter()
        taps, scores = select_blocks(cache, fold.train, labels, groups, tap_order, settings, seed)
        features = pooled_features(cache, (*taps, FINAL), views)
        probabilities, chosen = logistic_scores(features, labels, fold.train, fold.test, inner_cs=inner_cs)
        metrics = binary_metrics(labels[list(fold.test)], probabilities.argmax(axis=1), scores=probabilities[:, 1])
        results.append(
            FoldResult(
                fold.number,
                metrics,
                len(fold.train),
                len(fold.test),
                time.perf_counter() - fold_began,
                indices_digest(fold.train, fold.test),
                details={"taps": list(taps), "probe_accuracy": scores, **chosen},
            )
        )
    config = {"backbone": backbone, "views": list(views), "C": list(inner_cs), "nested": settings.to_dict()}
    return CrossValidationResult(dataset.name, model_name, results, config, time.perf_counter() - began)


def chosen_blocks(result: CrossValidationResult) -> list[list[str]]:
    """The blocks each outer fold of a nested run chose, in fold order."""
    return [list(fold.details.get("taps", [])) for fold in result.folds]
