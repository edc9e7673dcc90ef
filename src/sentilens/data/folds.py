"""Stratified k-fold splits that keep images with identical content in the same fold.

The public Twitter I copy holds byte-identical images under different file names; a random
split can put one copy in training and the other in test, which leaks.  Images are grouped by
the SHA-256 of their bytes and split with scikit-learn's StratifiedGroupKFold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sklearn.model_selection import StratifiedGroupKFold

from sentilens.data.labelled import LabelledImages
from sentilens.utils.errors import InvalidArgumentError
from sentilens.utils.hashing import file_digest


def content_digests(paths: Sequence[Path]) -> list[str]:
    """SHA-256 of each file's bytes (equal digests mean identical content)."""
    return [file_digest(p) for p in paths]


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
    labels: npt.ArrayLike, groups: npt.ArrayLike, n_splits: int = 5, seed: int = 0
) -> list[Fold]:
    """Stratified folds in which every group lies wholly in one test fold; fixed by ``seed``."""
    labels_array = np.asarray(labels)
    if n_splits < 2:
        raise InvalidArgumentError(f"n_splits must be at least 2, got {n_splits}")
    smallest = np.bincount(labels_array).min() if len(labels_array) else 0
    if smallest < n_splits:
        raise InvalidArgumentError(
            f"each class needs at least {n_splits} images for {n_splits} folds; smallest has {smallest}"
        )
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    placeholder = np.zeros(len(labels_array))
    return [
        Fold(number, tuple(int(i) for i in train), tuple(int(i) for i in test))
        for number, (train, test) in enumerate(splitter.split(placeholder, labels_array, groups))
    ]


def make_folds(
    dataset: LabelledImages, n_splits: int = 5, seed: int = 0, digests: Sequence[str] | None = None
) -> list[Fold]:
    """Stratified folds of ``dataset`` with identical images kept together (``digests``: the files' contents)."""
    dataset.require_all_classes()
    return grouped_stratified_folds(dataset.labels, content_groups(dataset.paths, digests), n_splits, seed)
