"""The paper's block experiments, on the same folds for every row.

* Table 4 (``layer_experiment``): no auxiliary head, then one head on each block in turn.
* Table 5 (``ablation_experiment``): every non-empty subset of the chosen blocks.

Every row reuses one frozen pass over the images (the cache holds every tap the rows need), so a
row costs only its training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from itertools import combinations
from typing import Any

from sentilens.data import LabelledImages
from sentilens.evaluation.crossval import CrossValidationResult, cross_validate
from sentilens.evaluation.metrics import METRIC_NAMES
from sentilens.models import DEFAULT_AUX_WEIGHT
from sentilens.training import TrainConfig, ViewCache, prepare_cache
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


def _run_rows(
    dataset: LabelledImages,
    config: TrainConfig,
    rows: Sequence[tuple[str, ...]],
    n_splits: int,
    seed: int,
    cache: ViewCache | None,
) -> list[tuple[tuple[str, ...], CrossValidationResult]]:
    weight = config.aux_weights[0] if config.aux_weights else DEFAULT_AUX_WEIGHT
    if cache is None:
        every_tap = tuple(sorted({t for row in rows for t in row}))
        cache = prepare_cache(dataset, replace(config, taps=every_tap, aux_weights=None))
    results = []
    for taps in rows:
        row_config = replace(config, taps=taps, aux_weights=(weight,) * len(taps))
        name = "+".join(taps) if taps else "no auxiliary head"
        results.append((taps, cross_validate(dataset, row_config, n_splits, seed, cache=cache, model_name=name)))
    return results


def layer_experiment(
    dataset: LabelledImages,
    config: TrainConfig,
    taps: Sequence[str],
    n_splits: int = 5,
    seed: int = 0,
    cache: ViewCache | None = None,
) -> list[tuple[tuple[str, ...], CrossValidationResult]]:
    """Table 4: no head, then one head on each of ``taps``."""
    return _run_rows(dataset, config, [(), *[(t,) for t in taps]], n_splits, seed, cache)


def ablation_experiment(
    dataset: LabelledImages,
    config: TrainConfig,
    taps: Sequence[str],
    n_splits: int = 5,
    seed: int = 0,
    cache: ViewCache | None = None,
) -> list[tuple[tuple[str, ...], CrossValidationResult]]:
    """Table 5: every non-empty subset of ``taps``, largest first."""
    if not taps:
        raise InvalidArgumentError("the ablation needs at least one block")
    rows = [combo for size in range(len(taps), 0, -1) for combo in combinations(taps, size)]
    return _run_rows(dataset, config, rows, n_splits, seed, cache)


def markdown_block_table(rows: Sequence[tuple[tuple[str, ...], CrossValidationResult]], title: str) -> str:
    """One line per head set: ours (mean ± std) and the paper's GoogLeNet accuracy where it has one."""
    lines = [
        f"### {title}",
        "",
        "| auxiliary heads | " + " | ".join(METRIC_NAMES) + " | paper accuracy (GoogLeNet) |",
        "|---|" + "---|" * (len(METRIC_NAMES) + 1),
    ]
    for taps, result in rows:
        summary = result.summary
        cells = " | ".join(f"{summary[m]['mean']:.3f} ± {summary[m]['std']:.3f}" for m in METRIC_NAMES)
        paper = PAPER_BLOCK_ACCURACY.get(tuple(taps))
        lines.append(f"| {result.model} | {cells} | {'' if paper is None else f'{paper:.3f}'} |")
    return "\n".join(lines) + "\n"


def block_table_json(rows: Sequence[tuple[tuple[str, ...], CrossValidationResult]]) -> list[dict[str, Any]]:
    """Rows as JSON: taps, mean and std of every metric, the paper's accuracy where known."""
    return [
        {
            "taps": list(taps),
            **{m: result.summary[m]["mean"] for m in METRIC_NAMES},
            **{f"{m}_std": result.summary[m]["std"] for m in METRIC_NAMES},
            "paper_accuracy": PAPER_BLOCK_ACCURACY.get(tuple(taps)),
            "seconds": result.seconds,
        }
        for taps, result in rows
    ]
