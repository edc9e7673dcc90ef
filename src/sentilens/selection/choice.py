"""Choosing the head set from a set of training images alone, by the linear probe.

The linear-probe half of ``suggest-blocks`` (:mod:`sentilens.selection.evidence`): each block's
pooled centre-view features are scored by a standardised logistic-regression probe over inner
folds of the given images (grouped by content, stratified), and the ``k`` best blocks become the
head set, leaving out the backbone's last block (the main head reads it already).  The NMF half of
the ranking needs every image's whole map, i.e. another backbone pass, so it is not used here.
``train --blocks auto`` chooses so on all its images; nested cross-validation
(:mod:`sentilens.evaluation.nested`) on each outer fold's training images.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sentilens.data import grouped_stratified_folds
from sentilens.selection.evidence import probe_accuracy
from sentilens.training import FrozenOutputs


def probe_ranking(
    cache: FrozenOutputs,
    indices: Sequence[int],
    labels: np.ndarray,
    groups: np.ndarray,
    blocks: Sequence[str],
    inner_splits: int,
    seed: int,
    c: float,
) -> dict[str, float]:
    """Mean inner-fold probe accuracy of each block, computed on the images ``indices`` only."""
    rows = np.asarray(indices)
    folds = grouped_stratified_folds(labels[rows], groups[rows], inner_splits, seed)
    return {
        block: float(probe_accuracy(cache.pooled["centre"][block].numpy()[rows], labels[rows], folds, c).mean())
        for block in blocks
    }


def choose_blocks(scores: dict[str, float], block_order: Sequence[str], k: int) -> tuple[str, ...]:
    """The ``k`` best-scoring blocks (ties: the deeper block first), without the last, in depth order."""
    eligible = [t for t in block_order[:-1] if t in scores] or list(scores)
    best = sorted(eligible, key=lambda t: (-scores[t], -block_order.index(t)))[:k]
    return tuple(t for t in block_order if t in best)


def select_blocks(
    cache: FrozenOutputs,
    indices: Sequence[int],
    labels: np.ndarray,
    groups: np.ndarray,
    block_order: Sequence[str],
    seed: int,
    *,
    k: int,
    inner_splits: int,
    c: float,
) -> tuple[tuple[str, ...], dict[str, float]]:
    """The ``k`` blocks chosen from the images ``indices`` alone (probe over ``inner_splits``
    folds, inverse regularisation ``c``), and every block's inner probe accuracy."""
    scores = probe_ranking(cache, indices, labels, groups, block_order, inner_splits, seed, c)
    return choose_blocks(scores, block_order, k), scores
