"""Nested cross-validation: the blocks are chosen inside each outer fold, from its training images.

Choosing the auxiliary blocks (and any tuned setting) on the images a model is scored on flatters
it.  Here every outer fold repeats the whole choice on its own training images only:

1. **Blocks**: the linear probe of :mod:`sentilens.selection.choice` ranks every block over
   ``inner_splits`` folds of the outer-training images and the ``k`` best become the head set.
2. **Auxiliary weight**: when more than one candidate is given, each is cross-validated on the
   same inner folds with the chosen blocks and the best mean inner accuracy wins (ties: the first
   listed).  With one candidate (the default, the paper's 0.1) nothing is tuned.
3. The chosen model is trained on all outer-training images and scored on the outer-test fold.

Learning rate, epochs and views are not tuned: they come from the config, fixed beforehand.
The frozen features are the pretrained backbone's, the same in every fold, so one feature cache
serves every outer and inner fold without leaking labels.  Both nested protocols here are
strategies for the one fold loop (:func:`~sentilens.evaluation.protocol.run_folds`);
:func:`nested_cross_validate` runs the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sentilens.data import Fold, LabelledImages, content_digests, content_groups, grouped_stratified_folds
from sentilens.evaluation.companion import with_companion
from sentilens.evaluation.crossval import logistic_scores, pooled_features, train_and_predict
from sentilens.evaluation.protocol import CrossValidationResult, FoldOutcome, fold_seed, run_folds
from sentilens.models import DEFAULT_AUX_WEIGHT, backbone_spec
from sentilens.selection import SelectionError, select_blocks
from sentilens.training import FrozenOutputs, TrainConfig
from sentilens.training.frozen_pass import FINAL
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


def inner_accuracy(
    cache: FrozenOutputs,
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
        _, probabilities = train_and_predict(
            cache, config, train, test, labels, fold_seed(seed, 100 + fold.number), "nested fold"
        )
        scores.append(float((probabilities.argmax(axis=1) == labels[test]).mean()))
    return float(np.mean(scores))


@dataclass
class BlockChooser:
    """Chooses the head set from given training images with the probe of
    :mod:`sentilens.selection.choice`, as each outer fold of a nested run does (and
    ``train --blocks auto`` on all its images).

    Attributes:
        cache: the frozen cache of every block.
        labels: every image's label.
        digests: every file's content digest (the fold loop makes the folds from them).
        groups: a group per image; identical images share one.
        block_order: the backbone's blocks in depth order.
        settings: how many blocks, inner folds and the probe's regularisation.
    """

    cache: FrozenOutputs
    labels: np.ndarray
    digests: list[str]
    groups: np.ndarray
    block_order: tuple[str, ...]
    settings: NestedSettings

    def choose(self, indices: Sequence[int], seed: int) -> tuple[tuple[str, ...], dict[str, float]]:
        """The head set chosen from the images ``indices`` alone, and every block's inner probe accuracy."""
        settings = self.settings
        return select_blocks(
            self.cache,
            indices,
            self.labels,
            self.groups,
            self.block_order,
            seed,
            k=settings.k,
            inner_splits=settings.inner_splits,
            c=settings.probe_c,
        )


def block_chooser(
    dataset: LabelledImages, cache: FrozenOutputs, backbone: str, settings: NestedSettings | None = None
) -> BlockChooser:
    """The chooser for ``dataset`` with ``backbone``'s blocks (default settings: :class:`NestedSettings`'s)."""
    digests = content_digests(dataset.paths)
    return BlockChooser(
        cache,
        np.asarray(dataset.labels),
        digests,
        content_groups(dataset.paths, digests),
        backbone_spec(backbone).blocks,
        settings or NestedSettings(),
    )


@dataclass
class NestedStrategy:
    """Heads on the blocks (and auxiliary weight) each fold chooses from its training images."""

    chooser: BlockChooser
    config: TrainConfig
    name: str

    @property
    def record(self) -> dict[str, Any]:
        return {
            **self.config.to_dict(),
            "blocks": "auto",
            "aux_weights": None,
            "nested": self.chooser.settings.to_dict(),
        }

    def prepare(self, folds: Sequence[Fold], n_folds: int, seed: int) -> None:
        """Nothing: the frozen cache is given."""

    def __call__(self, fold: Fold, n_folds: int, seed: int) -> FoldOutcome:
        chooser = self.chooser
        blocks, scores = chooser.choose(fold.train, seed)
        weights = chooser.settings.aux_weights
        candidates = {w: replace(self.config, blocks=blocks, aux_weights=(w,) * len(blocks)) for w in weights}
        inner = (
            {
                w: inner_accuracy(
                    chooser.cache, c, fold.train, chooser.labels, chooser.groups, chooser.settings.inner_splits, seed
                )
                for w, c in candidates.items()
            }
            if len(candidates) > 1
            else {}
        )
        weight = max(inner, key=lambda w: inner[w]) if inner else weights[0]
        chosen = candidates[weight]
        model, probabilities = train_and_predict(
            chooser.cache, chosen, fold.train, fold.test, chooser.labels, fold_seed(seed, fold.number), "nested fold"
        )
        details = {
            "blocks": list(blocks),
            "aux_weight": weight,
            "probe_accuracy": scores,
            "inner_accuracy": {str(w): a for w, a in inner.items()},
        }
        return FoldOutcome(probabilities, details, model, chosen)


@dataclass
class NestedLogisticStrategy:
    """One logistic regression on the pooled features of the blocks each fold chooses and of the
    last block, averaged over ``views``; ``C`` chosen among ``inner_cs`` by inner 3-fold
    cross-validation on the outer-training images.  ``backbone`` names the chooser's backbone."""

    chooser: BlockChooser
    backbone: str
    views: Sequence[str] = ("centre", "mirror")
    inner_cs: Sequence[float] = (0.003, 0.01, 0.03, 0.1)
    name: str = "nested selection, logistic regression on the chosen blocks"

    @property
    def record(self) -> dict[str, Any]:
        return {
            "backbone": self.backbone,
            "views": list(self.views),
            "C": list(self.inner_cs),
            "nested": self.chooser.settings.to_dict(),
        }

    def prepare(self, folds: Sequence[Fold], n_folds: int, seed: int) -> None:
        """Nothing: the frozen cache is given."""

    def __call__(self, fold: Fold, n_folds: int, seed: int) -> FoldOutcome:
        blocks, scores = self.chooser.choose(fold.train, seed)
        features = pooled_features(self.chooser.cache, (*blocks, FINAL), self.views)
        probabilities, chosen = logistic_scores(
            features, self.chooser.labels, fold.train, fold.test, inner_cs=self.inner_cs
        )
        return FoldOutcome(probabilities, {"blocks": list(blocks), "probe_accuracy": scores, **chosen})


def nested_cross_validate(
    dataset: LabelledImages,
    config: TrainConfig,
    cache: FrozenOutputs,
    n_splits: int = 5,
    seed: int = 0,
    settings: NestedSettings | None = None,
    model_name: str = "nested selection",
) -> CrossValidationResult:
    """Outer ``n_splits``-fold cross-validation in which each fold chooses its own blocks.

    ``cache`` is the frozen feature cache of ``dataset`` (every block pooled, e.g. from
    :func:`~sentilens.training.prepare_cache` in frozen mode).  Each fold's choice is in its
    :attr:`~sentilens.evaluation.FoldResult.details` (``blocks``, ``aux_weight``, the inner probe
    accuracy of every block and the inner accuracy of every candidate weight).  A config with a
    companion network fits its read-out inside each fold, as :func:`~sentilens.evaluation.cross_validate` does.
    """
    if config.mode != "frozen" or cache.boundary is not None or cache.recompute:
        raise InvalidArgumentError("nested block selection needs the frozen mode (pooled features of every block)")
    chooser = block_chooser(dataset, cache, config.backbone, settings)
    strategy = with_companion(NestedStrategy(chooser, config, model_name), dataset, config)
    return run_folds(dataset, strategy, n_splits, seed, digests=chooser.digests)


def chosen_blocks(result: CrossValidationResult) -> list[list[str]]:
    """The blocks each outer fold of a nested run chose, in fold order."""
    return [list(fold.details.get("blocks", [])) for fold in result.folds]
