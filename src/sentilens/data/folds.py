"""Stratified k-fold splits that keep images with identical content in the same fold.

The public Twitter I copy holds byte-identical images under different file names; a random
split can put one copy in training and the other in test, which leaks.  Images are grouped by
the SHA-256 of their bytes and split with scikit-learn's StratifiedGroupKFold.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold


def content_digests(paths: Sequence[Path]) -> list[str]:
    """SHA-256 of each file's bytes (equal digests mean identical content)."""
    return [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths]


def content_groups(paths: Sequence[Path], digests: Sequence[str] | None = None) -> np.ndarray:
    """An integer group per image; identical files share a group (``digests`` saves re-reading)."""
    index: dict[str, int] = {}
    return np.array([index.setdefault(d, len(index)) for d in (digests or content_digests(paths))])


@dataclass(frozen=True)
class Fold:
    """Indices of one cross-validation fold."""

    number: int
    train: tuple[int, ...]
    test: tuple[int, ...]


def grouped_stratified_folds(
    labels: Sequence[int], groups: Sequence[int], n_splits: int = 5, seed: int = 0
) -> list[Fold]:
    """Stratified folds in which every group lies wholly in one test fold; fixed by ``seed``."""
    labels_array = np.asarray(labels)
    if n_splits < 2:
        raise ValueError(f"n_splits must be at least 2, got {n_splits}")
    smallest = np.bincount(labels_array).min() if len(labels_array) else 0
    if smallest < n_splits:
        raise ValueError(f"each class needs at least {n_splits} images for {n_splits} folds; smallest has {smallest}")
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    placeholder = np.zeros(len(labels_array))
    return [
        Fold(number, tuple(int(i) for i in train), tuple(int(i) for i in test))
        for number, (train, test) in enumerate(splitter.split(placeholder, labels_array, groups))
    ]
