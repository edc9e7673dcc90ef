"""The paper's block experiments, on the same folds for every row.

* Table 4 (:func:`layer_rows`): no auxiliary head, then one head on each block in turn.
* Table 5 (:func:`ablation_rows`): every non-empty subset of the chosen blocks.

Every row reuses one frozen pass over the images (the cache holds every block the rows need), so a
row costs only its training.  The rows x folds are independent jobs (:class:`Sweep`), each
scored by the fold loop's :func:`~sentilens.evaluation.protocol.score_fold` with the heads
strategy; a :data:`JobRunner` runs them, in this process by default or as Ray tasks
(``sentilens.app.distributed``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import combinations
from typing import Any

import numpy as np

from sentilens.data import Fold, LabelledImages, content_digests, make_folds
from sentilens.evaluation.crossval import HeadsStrategy
from sentilens.evaluation.metrics import METRIC_NAMES
from sentilens.evaluation.protocol import CrossValidationResult, FoldResult, score_fold
from sentilens.models import DEFAULT_AUX_WEIGHT
from sentilens.training import FrozenOutputs, TrainConfig, prepare_cache
from sentilens.training.frozen_pass import FINAL
from sentilens.utils.errors import InvalidArgumentError

#: Five-agree accuracies the paper reports for GoogLeNet (Tables 4 and 5), keyed by head set.
PAPER_BLOCK_ACCURACY: dict[tuple[str, ...], float] = {
    (): 0.800,
    ("3a",): 0.817,
    ("3b",): 0.808,
    ("4c",): 0.798,
    ("4e",): 0.815,
    ("4a",): 0.851,
    ("4b",): 0.845,
    ("4d",): 0.849,
    ("4b", "4d"): 0.862,
    ("4a", "4d"): 0.866,
    ("4a", "4b"): 0.858,
    ("4a", "4b", "4d"): 0.881,
}


@dataclass(frozen=True)
class FoldJob:
    """One unit of a block experiment: train and score the heads of row ``row`` on fold ``fold``."""

    row: int
    fold: int


@dataclass
class Sweep:
    """The rows x folds of a block experiment, with everything one job needs.

    A job depends only on this object and its own (row, fold): its randomness comes from
    (seed, fold number), so jobs may run in any order, in other processes or on other machines
    (see ``sentilens.app.distributed``), and give the same scores as a run in this process.

    Attributes:
        dataset: the images and labels.
        config: the experiment's config; each row replaces its blocks and auxiliary weights.
        rows: the auxiliary head set of each row.
        folds: the folds every row is scored on.
        seed: the seed the folds and the fold seeds come from.
        cache: the frozen blocks' outputs, holding only what the rows read.
    """

    dataset: LabelledImages
    config: TrainConfig
    rows: list[tuple[str, ...]]
    folds: list[Fold]
    seed: int
    cache: FrozenOutputs

    def jobs(self) -> list[FoldJob]:
        """Every (row, fold), row by row."""
        return [FoldJob(row, fold.number) for row in range(len(self.rows)) for fold in self.folds]

    def row_config(self, row: int) -> TrainConfig:
        """The config of row ``row``: its blocks, each head at the experiment's auxiliary weight."""
        weight = self.config.aux_weights[0] if self.config.aux_weights else DEFAULT_AUX_WEIGHT
        blocks = self.rows[row]
        return replace(self.config, blocks=blocks, aux_weights=(weight,) * len(blocks))

    def run(self, job: FoldJob) -> FoldResult:
        """Train and score one job."""
        strategy = HeadsStrategy(self.dataset, self.row_config(job.row), self.cache)
        labels = np.asarray(self.dataset.labels)
        result, _ = score_fold(strategy, self.folds[job.fold], labels, len(self.folds), self.seed)
        return result

    def results(self, fold_results: Sequence[FoldResult]) -> list[tuple[tuple[str, ...], CrossValidationResult]]:
        """The rows' cross-validation results from the results of :meth:`jobs`, in the same order.

        A row's ``seconds`` is the sum of its folds' training and scoring time.
        """
        per_row = len(self.folds)
        rows = []
        for row, blocks in enumerate(self.rows):
            folds = list(fold_results[row * per_row : (row + 1) * per_row])
            name = "+".join(blocks) if blocks else "no auxiliary head"
            config = self.row_config(row).to_dict()
            rows.append(
                (blocks, CrossValidationResult(self.dataset.name, name, folds, config, sum(f.seconds for f in folds)))
            )
        return rows


#: Runs every job of a sweep and returns their results in the order of ``Sweep.jobs()``.
JobRunner = Callable[[Sweep], list[FoldResult]]


def run_in_process(sweep: Sweep) -> list[FoldResult]:
    """The default :data:`JobRunner`: one job after another in this process."""
    return [sweep.run(job) for job in sweep.jobs()]


def plan_sweep(
    dataset: LabelledImages,
    config: TrainConfig,
    rows: Sequence[tuple[str, ...]],
    n_splits: int,
    seed: int,
    cache: FrozenOutputs | None = None,
) -> Sweep:
    """The sweep of ``rows``: shared folds, and one frozen pass holding every block the rows need."""
    every_block = tuple(sorted({t for row in rows for t in row}))
    if cache is None:
        cache = prepare_cache(dataset, replace(config, blocks=every_block, aux_weights=None))
    folds = make_folds(dataset, n_splits, seed, content_digests(dataset.paths))
    return Sweep(dataset, config, list(rows), folds, seed, only_blocks(cache, every_block))


def only_blocks(cache: FrozenOutputs, blocks: Sequence[str]) -> FrozenOutputs:
    """``cache`` without the pooled outputs of blocks outside ``blocks`` (the final map stays)."""
    keep = {*blocks, FINAL}
    pooled = {view: {k: t for k, t in d.items() if k in keep} for view, d in cache.pooled.items()}
    return FrozenOutputs(cache.boundary, cache.inputs, pooled, cache.recompute)


def layer_rows(blocks: Sequence[str]) -> list[tuple[str, ...]]:
    """Table 4's head sets: none, then each of ``blocks`` alone."""
    return [(), *[(t,) for t in blocks]]


def ablation_rows(blocks: Sequence[str]) -> list[tuple[str, ...]]:
    """Table 5's head sets: every non-empty subset of ``blocks``, largest first."""
    if not blocks:
        raise InvalidArgumentError("the ablation needs at least one block")
    return [combo for size in range(len(blocks), 0, -1) for combo in combinations(blocks, size)]


def block_experiment(
    dataset: LabelledImages,
    config: TrainConfig,
    rows: Sequence[tuple[str, ...]],
    n_splits: int = 5,
    seed: int = 0,
    cache: FrozenOutputs | None = None,
    runner: JobRunner = run_in_process,
) -> list[tuple[tuple[str, ...], CrossValidationResult]]:
    """Each head set of ``rows`` cross-validated on the same folds; ``runner`` runs the rows x folds."""
    sweep = plan_sweep(dataset, config, rows, n_splits, seed, cache)
    return sweep.results(runner(sweep))


def markdown_block_table(rows: Sequence[tuple[tuple[str, ...], CrossValidationResult]], title: str) -> str:
    """One line per head set: ours (mean ± std) and the paper's GoogLeNet accuracy where it has one."""
    lines = [
        f"### {title}",
        "",
        "| auxiliary heads | " + " | ".join(METRIC_NAMES) + " | paper accuracy (GoogLeNet) |",
        "|---|" + "---|" * (len(METRIC_NAMES) + 1),
    ]
    for blocks, result in rows:
        summary = result.summary
        cells = " | ".join(f"{summary[m]['mean']:.3f} ± {summary[m]['std']:.3f}" for m in METRIC_NAMES)
        paper = PAPER_BLOCK_ACCURACY.get(tuple(blocks))
        lines.append(f"| {result.model} | {cells} | {'' if paper is None else f'{paper:.3f}'} |")
    return "\n".join(lines) + "\n"


def block_table_json(rows: Sequence[tuple[tuple[str, ...], CrossValidationResult]]) -> list[dict[str, Any]]:
    """Rows as JSON: blocks, mean and std of every metric, the paper's accuracy where known."""
    return [
        {
            "blocks": list(blocks),
            **{m: result.summary[m]["mean"] for m in METRIC_NAMES},
            **{f"{m}_std": result.summary[m]["std"] for m in METRIC_NAMES},
            "paper_accuracy": PAPER_BLOCK_ACCURACY.get(tuple(blocks)),
            "seconds": result.seconds,
        }
        for blocks, result in rows
    ]
