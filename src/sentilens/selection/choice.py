"""Choosing the head set from a set of training images alone, by the linear probe.

The linear-probe half of ``suggest-layers`` (:mod:`sentilens.selection.evidence`): each tap's
pooled centre-view features are scored by a standardised logistic-regression probe over inner
folds of the given images (grouped by content, stratified), and the ``k`` best taps become the
head set, leaving out the backbone's last tap (the main head reads it already).  The NMF half of
the ranking needs every image's whole map, i.e. another backbone pass, so it is not used here.
``train --taps auto`` chooses so on all its images; nested cross-validation
(:mod:`sentilens.evaluation.nested`) on each outer fold's training images.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sentilens.data import grouped_stratified_folds
from sentilens.selection.evidence import probe_accuracy
from sentilens.training import ViewCache


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
    seed: int,
    *,
    k: int,
    inner_splits: int,
    c: float,
) -> tuple[tuple[str, ...], dict[str, float]]:
    """The ``k`` blocks chosen from the images ``indices`` alone (probe over ``inner_splits``
    folds, inverse regularisation ``c``), and every tap's inner probe accuracy."""
    scores = probe_ranking(cache, indices, labels, groups, tap_order, inner_splits, seed, c)
    return choose_taps(scores, tap_order, k), scores
