"""The one fold loop: every cross-validation in sentilens runs its folds here.

What happens on a fold is a *strategy* passed in (:class:`FoldStrategy`): fresh heads
(:class:`~sentilens.evaluation.crossval.HeadsStrategy`), the logistic floor
(:class:`~sentilens.evaluation.crossval.LogisticStrategy`), nested selection
(:mod:`sentilens.evaluation.nested`).  The loop owns what must be the same for all of them: the
folds (stratified, identical images kept together, fixed by the seed), how a fold is timed and
scored (:func:`score_fold`), the resumable run folder, and the summary.  Each fold's randomness
comes from (seed, fold number) alone (:func:`fold_seed`), so a fold gives the same model whether
it runs first, last, after a resume or in another process.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from sentilens.data import Fold, LabelledImages, content_digests, make_folds
from sentilens.evaluation.metrics import binary_metrics, summarise
from sentilens.evaluation.rundir import RunDirectory, dataset_digest, indices_digest
from sentilens.models import SentimentModel, save_checkpoint
from sentilens.training import TrainConfig, boundary_stage
from sentilens.utils.errors import InvalidArgumentError
from sentilens.utils.hashing import json_digest
from sentilens.utils.version import __version__


@dataclass
class FoldResult:
    """Scores of one held-out fold (``details``: what a strategy chose in it, e.g. nested blocks).

    ``test`` and ``probabilities`` (the test images' indices and the fold model's class
    probabilities for them) are kept in memory for calibration; a fold resumed from a run folder
    has neither, and result files do not hold them.
    """

    number: int
    metrics: dict[str, float]
    n_train: int
    n_test: int
    seconds: float
    indices_digest: str = ""
    resumed: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    test: tuple[int, ...] = ()
    probabilities: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fold's record for result files (without the in-memory ``test`` and ``probabilities``)."""
        return {k: v for k, v in vars(self).items() if k not in ("test", "probabilities")}


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

    def out_of_fold(self) -> list[tuple[tuple[int, ...], np.ndarray]] | None:
        """Each fold's test indices and probabilities; None when a fold was resumed (none kept)."""
        if any(fold.probabilities is None for fold in self.folds):
            return None
        return [(fold.test, fold.probabilities) for fold in self.folds if fold.probabilities is not None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "model": self.model,
            "config": self.config,
            "seconds": self.seconds,
            "summary": self.summary,
            "folds": [f.to_dict() for f in self.folds],
        }


@dataclass
class FoldOutcome:
    """What a strategy gives back for one fold.

    Attributes:
        probabilities: ``(len(fold.test), classes)`` class probabilities of the test images.
        details: what the strategy chose on the fold's training images (kept in the result).
        model: the model it trained, if any, with ``config``, the config it was built from: a
            run folder keeps it so that a resumed run need not train the fold again.
        config: see ``model``.
    """

    probabilities: np.ndarray
    details: dict[str, Any] = field(default_factory=dict)
    model: SentimentModel | None = None
    config: TrainConfig | None = None


class FoldStrategy(Protocol):
    """What happens on one fold: learn from ``fold.train`` only, give probabilities for ``fold.test``."""

    @property
    def name(self) -> str:
        """The model's label in result tables."""
        ...

    @property
    def record(self) -> dict[str, Any]:
        """What defines the strategy (config and settings), for result files and run folders."""
        ...

    def prepare(self, folds: Sequence[Fold], n_folds: int, seed: int) -> None:
        """Work shared by the ``folds`` the loop is about to run (e.g. a frozen pass, or training
        every fold's heads together); the loop calls it once, before the first of them, and not at
        all when every fold is resumed from a run folder.  A fold's outcome must not depend on
        which other folds are in ``folds``."""
        ...

    def __call__(self, fold: Fold, n_folds: int, seed: int) -> FoldOutcome:
        """Learn on ``fold.train`` and predict ``fold.test``; randomness from (``seed``, fold number)."""
        ...


def fold_seed(seed: int, number: int) -> int:
    """The seed of fold ``number``: a function of (seed, number) only."""
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


def score_fold(
    strategy: FoldStrategy, fold: Fold, labels: np.ndarray, n_folds: int, seed: int
) -> tuple[FoldResult, FoldOutcome]:
    """Run ``strategy`` on ``fold`` and score its test probabilities (argmax and positive-class score).

    ``seconds`` counts the strategy's work on the fold and the scoring, not :meth:`FoldStrategy.prepare`.
    """
    began = time.perf_counter()
    outcome = strategy(fold, n_folds, seed)
    probabilities = outcome.probabilities
    metrics = binary_metrics(labels[list(fold.test)], probabilities.argmax(axis=1), scores=probabilities[:, 1])
    result = FoldResult(
        fold.number,
        metrics,
        len(fold.train),
        len(fold.test),
        time.perf_counter() - began,
        indices_digest(fold.train, fold.test),
        details=outcome.details,
        test=tuple(fold.test),
        probabilities=probabilities,
    )
    return result, outcome


def run_folds(
    dataset: LabelledImages,
    strategy: FoldStrategy,
    n_splits: int = 5,
    seed: int = 0,
    run_dir: str | Path | None = None,
    digests: Sequence[str] | None = None,
) -> CrossValidationResult:
    """Score ``strategy`` on each of ``n_splits`` folds of ``dataset`` made with ``seed``.

    With ``run_dir`` every finished fold is kept there (scores and model: the strategy must train
    one) and folds found there from an earlier, interrupted run of the same strategy, seed, folds
    and data are reused; a folder from a different run raises
    :class:`~sentilens.evaluation.rundir.RunDirError`.  ``digests`` (the files' content digests)
    saves reading the images again when the caller has them.
    """
    began = time.perf_counter()
    digests = content_digests(dataset.paths) if digests is None else digests
    folds = make_folds(dataset, n_splits, seed, digests)
    run = None
    if run_dir is not None:
        identity = {
            "config": json_digest(strategy.record),
            "seed": seed,
            "n_splits": n_splits,
            "dataset": dataset_digest(dataset.labels, digests, dataset.class_names),
            "sentilens_version": __version__,
        }
        run = RunDirectory(run_dir, identity)
    labels = np.asarray(dataset.labels)
    resumed: dict[int, FoldResult] = {}
    for fold in folds:
        fold_digest = indices_digest(fold.train, fold.test)
        record = run.finished(fold.number, fold_digest) if run is not None else None
        if record is not None:
            resumed[fold.number] = FoldResult(
                fold.number,
                record["metrics"],
                record["n_train"],
                record["n_test"],
                record["seconds"],
                fold_digest,
                resumed=True,
                details=record.get("details", {}),
            )
    pending = [fold for fold in folds if fold.number not in resumed]
    if pending:
        strategy.prepare(pending, n_splits, seed)
    results = []
    for fold in folds:
        if fold.number in resumed:
            results.append(resumed[fold.number])
            continue
        result, outcome = score_fold(strategy, fold, labels, n_splits, seed)
        if run is not None:
            keep_fold(run, result, outcome, dataset.class_names)
        results.append(result)
    return CrossValidationResult(dataset.name, strategy.name, results, strategy.record, time.perf_counter() - began)


def keep_fold(run: RunDirectory, result: FoldResult, outcome: FoldOutcome, class_names: tuple[str, ...]) -> None:
    """Write a finished fold to ``run``: its model first, then its record (which marks it finished)."""
    if outcome.model is None or outcome.config is None:
        raise InvalidArgumentError("a run folder keeps trained models; this strategy trains none")
    save_checkpoint(
        outcome.model,
        outcome.config.to_dict(),
        run.fold_checkpoint(result.number),
        class_names,
        extra={"fold": result.number, "metrics": result.metrics, "indices_digest": result.indices_digest},
        trained_from=boundary_stage(outcome.config, outcome.model),
    )
    run.record(result.number, {k: v for k, v in result.to_dict().items() if k != "resumed"})
