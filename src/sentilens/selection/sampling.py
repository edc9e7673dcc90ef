"""Seeded, class-balanced samples of a dataset (for the probe features and the report's pictures)."""

from __future__ import annotations

import numpy as np

from sentilens.data import LabelledImages
from sentilens.utils.errors import InvalidArgumentError


def per_class_sample(dataset: LabelledImages, per_class: int, seed: int = 0) -> dict[int, list[int]]:
    """Up to ``per_class`` indices of each label, drawn without replacement, in dataset order."""
    if per_class < 1:
        raise InvalidArgumentError(f"per_class must be at least 1, got {per_class}")
    dataset.require_all_classes()
    rng = np.random.default_rng(seed)
    labels = np.asarray(dataset.labels)
    chosen = {}
    for label in range(len(dataset.class_names)):
        candidates = np.flatnonzero(labels == label)
        picked = rng.choice(candidates, size=min(per_class, len(candidates)), replace=False)
        chosen[label] = sorted(int(i) for i in picked)
    return chosen


def stratified_subset(dataset: LabelledImages, total: int | None, seed: int = 0) -> LabelledImages:
    """About ``total`` images with the dataset's class proportions (all when ``total`` is None or
    not smaller than the dataset)."""
    dataset.require_all_classes()
    if total is None or total >= len(dataset):
        return dataset
    if total < 2:
        raise InvalidArgumentError(f"a probe sample needs at least 2 images, got {total}")
    rng = np.random.default_rng(seed)
    labels = np.asarray(dataset.labels)
    keep: list[int] = []
    for label in range(len(dataset.class_names)):
        candidates = np.flatnonzero(labels == label)
        share = max(1, round(total * len(candidates) / len(labels)))
        keep += [int(i) for i in rng.choice(candidates, size=min(share, len(candidates)), replace=False)]
    return dataset.subset(sorted(keep))
