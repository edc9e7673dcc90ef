"""Table 3 over several fold seeds: fixed blocks, nested selection, no heads, the logistic floor, levers.

Every recipe runs on the same folds (one split per fold seed, per subset) and is reported per
fold, per seed and as the mean ± standard deviation over seeds of the 5-fold means.  The frozen
features are computed once for the largest subset (three agree, whose images include the other
two subsets') and read from the shared feature store afterwards.

Recipes (all frozen inception_v3 unless named ``full-*``, which need a GPU):

* ``fixed``: heads on the default blocks 6b 6c 6e, weight 0.1 (their choice looked at five agree).
* ``noaux``: the main head only.
* ``nested``: the blocks chosen in each outer fold from its training images (``cv --blocks auto``).
* ``nested-tuned``: ``nested`` with the auxiliary weight also chosen by inner cross-validation
  among 0.1, 0.3 and 1.0.
* ``nested-logistic``: blocks chosen as in ``nested``; their pooled features and the last
  block's (centre and mirror averaged) feed one logistic regression, C chosen on each training
  fold by inner 3-fold cross-validation.
* ``nested-w1``: ``nested`` with weight 1.0: the chosen blocks' heads vote as much as the main one.
* ``logistic``: logistic regression on the standardised pooled last block (centre view), C = 1.
* ``logistic-blocks``: logistic regression on pooled 6e, 7a, 7b and the last block concatenated,
  centre and mirror averaged, C chosen on each training fold by inner 3-fold cross-validation.
* ``*-zoom``: prediction also averages the zoomed views (``zoom``, ``zoom-mirror``).
* ``*-zoomaug``: the zoomed views are also training augmentation (a sample's view is drawn from
  all four).
* ``fixed-ens5``: five head sets trained with different seeds, their probabilities averaged.

    python benchmarks/table3.py --seeds 0 1 2 --recipes fixed noaux nested logistic
    python benchmarks/table3.py --combine results/table3-seed0.json results/table3-seed1.json ...
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common import DATA, write_json
from sentilens.data import TWITTER_SUBSETS, VIEW_NAMES, Fold, LabelledImages, load_twitter
from sentilens.evaluation import (
    CrossValidationResult,
    FoldOutcome,
    NestedLogisticStrategy,
    NestedSettings,
    block_chooser,
    cross_validate,
    cross_validate_logistic,
    fold_seed,
    markdown_table3,
    nested_cross_validate,
    run_folds,
    train_and_predict,
)
from sentilens.evaluation.metrics import ALL_METRIC_NAMES
from sentilens.training import FrozenOutputs, TrainConfig, prepare_cache

ZOOM = {"predict_views": VIEW_NAMES}
ZOOM_AUG = {"predict_views": VIEW_NAMES, "train_views": VIEW_NAMES}
TUNED = NestedSettings(aux_weights=(0.1, 0.3, 1.0))

#: name -> (kind, TrainConfig overrides, extra settings)
RECIPES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "fixed": ("heads", {}, {}),
    "noaux": ("heads", {"blocks": ()}, {}),
    "nested": ("nested", {}, {}),
    "nested-tuned": ("nested", {}, {"settings": TUNED}),
    "nested-w1": ("nested", {}, {"settings": NestedSettings(aux_weights=(1.0,))}),
    "nested-logistic": ("nested-logistic", {}, {}),
    "logistic": ("logistic", {}, {}),
    "logistic-blocks": (
        "logistic",
        {},
        {"blocks": ("6e", "7a", "7b", "final"), "views": ("centre", "mirror"), "inner_cs": (0.003, 0.01, 0.03, 0.1)},
    ),
    "fixed-zoom": ("heads", ZOOM, {}),
    "fixed-zoomaug": ("heads", ZOOM_AUG, {}),
    "nested-zoom": ("nested", ZOOM, {}),
    "nested-zoomaug": ("nested", ZOOM_AUG, {}),
    "fixed-ens5": ("ensemble", {}, {"members": 5}),
    "full-aux": ("heads", {"mode": "finetune", "precision": "bf16"}, {}),
    "full-noaux": ("heads", {"mode": "finetune", "blocks": (), "precision": "bf16"}, {}),
}


def subset_cache(cache: FrozenOutputs, indices: torch.Tensor) -> FrozenOutputs:
    """The rows ``indices`` of a cache built for a superset of images."""
    return FrozenOutputs(
        cache.boundary,
        {v: t[indices] for v, t in cache.inputs.items()},
        {v: {k: t[indices] for k, t in d.items()} for v, d in cache.pooled.items()},
    )


@dataclass
class EnsembleStrategy:
    """``members`` head sets per fold (member m: config seed m, torch seed the fold's + m), their
    probabilities averaged."""

    dataset: LabelledImages
    config: TrainConfig
    cache: FrozenOutputs
    members: int
    name: str

    @property
    def record(self) -> dict[str, Any]:
        return {**self.config.to_dict(), "members": self.members}

    def prepare(self, folds: Sequence[Fold], n_folds: int, seed: int) -> None:
        """Nothing: the frozen cache is given."""

    def __call__(self, fold: Fold, n_folds: int, seed: int) -> FoldOutcome:
        labels = np.asarray(self.dataset.labels)
        total = np.zeros((len(fold.test), 2))
        for member in range(self.members):
            _, probabilities = train_and_predict(
                self.cache,
                replace(self.config, seed=member),
                fold.train,
                fold.test,
                labels,
                fold_seed(seed, fold.number) + member,
                f"fold {fold.number + 1}/{n_folds}, member {member + 1}/{self.members}",
            )
            total += probabilities
        return FoldOutcome(total / self.members)


def recipe_record(name: str) -> dict[str, Any]:
    """How a recipe is defined, for the result file."""
    kind, overrides, extra = RECIPES[name]
    return {"kind": kind, "overrides": overrides, "extra": str(extra)}


def run_recipe(
    recipe: str, dataset: LabelledImages, cache: FrozenOutputs, seed: int, base: TrainConfig
) -> CrossValidationResult:
    kind, overrides, extra = RECIPES[recipe]
    config = replace(base, **overrides, seed=seed)
    if kind == "heads":
        return cross_validate(dataset, config, 5, seed, cache=cache, model_name=recipe)
    if kind == "nested":
        return nested_cross_validate(dataset, config, cache, 5, seed, extra.get("settings"), model_name=recipe)
    if kind == "nested-logistic":
        chooser = block_chooser(dataset, cache, config.backbone)
        strategy = NestedLogisticStrategy(chooser, config.backbone, name=recipe)
        return run_folds(dataset, strategy, 5, seed, digests=chooser.digests)
    if kind == "logistic":
        result = cross_validate_logistic(dataset, cache, 5, seed, **extra)
        result.model = recipe
        return result
    return run_folds(dataset, EnsembleStrategy(dataset, config, cache, extra["members"], recipe), 5, seed)


def over_seeds(per_seed: list[dict[str, Any]]) -> dict[str, float]:
    """Mean and std over seeds of each seed's 5-fold mean, and the mean within-seed fold std
    (``per_seed``: :meth:`CrossValidationResult.to_dict` of each seed)."""
    summary: dict[str, float] = {"n_seeds": len(per_seed)}
    for metric in ALL_METRIC_NAMES:
        if all(metric in r["summary"] for r in per_seed):
            means = [r["summary"][metric]["mean"] for r in per_seed]
            summary[metric] = float(np.mean(means))
            summary[f"{metric}_std_over_seeds"] = float(np.std(means))
            summary[f"{metric}_fold_std"] = float(np.mean([r["summary"][metric]["std"] for r in per_seed]))
    return summary


def combine(files: list[Path], tag: str) -> None:
    """Merge result files of single-seed runs (same recipes and subsets) into one over-seeds table."""
    runs = [json.loads(f.read_text()) for f in files]
    seeds = sorted({seed for run in runs for seed in run["seeds"]})
    per_seed: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for run in runs:
        for subset, rows in run["per_seed"].items():
            for recipe, results in rows.items():
                per_seed.setdefault(subset, {}).setdefault(recipe, []).extend(results)
    table = {s: {r: over_seeds(results) for r, results in rows.items()} for s, rows in per_seed.items()}
    markdown = markdown_over_seeds(table, seeds)
    print(markdown)
    sources = {f.name: {"provenance": run["provenance"], "seeds": run["seeds"]} for f, run in zip(files, runs)}
    recipes = {name: spec for run in runs for name, spec in run["recipes"].items()}
    record = {"seeds": seeds, "recipes": recipes, "sources": sources, "over_seeds": table, "markdown": markdown}
    write_json(tag, record | {"per_seed": per_seed})


def markdown_over_seeds(table: dict[str, dict[str, dict[str, float]]], seeds: list[int]) -> str:
    lines = [
        f"Mean ± std over fold seeds (of {seeds}) of each seed's 5-fold mean:",
        "",
        "| subset | recipe | fold seeds | precision | recall | F1 | accuracy | ROC-AUC |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for subset, rows in table.items():
        for recipe, s in rows.items():
            cells = [
                f"{s[m]:.3f} ± {s[f'{m}_std_over_seeds']:.3f}" if m in s else "–"
                for m in ("precision", "recall", "f1", "accuracy", "roc_auc")
            ]
            lines.append(f"| {subset} | {recipe} | {int(s['n_seeds'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--recipes", nargs="+", default=["fixed", "noaux", "nested", "logistic"], choices=RECIPES)
    parser.add_argument("--subsets", nargs="+", default=list(TWITTER_SUBSETS), choices=TWITTER_SUBSETS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="fold seeds")
    parser.add_argument("--weights", default="imagenet")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--tag", default="table3-seeds", help="result file name (never overwritten)")
    parser.add_argument(
        "--write-each", action="store_true", help="also write a result file after each subset of each seed"
    )
    parser.add_argument("--combine", type=Path, nargs="+", help="merge these single-seed result files instead")
    args = parser.parse_args()
    if args.combine:
        combine(args.combine, args.tag)
        return

    everything = load_twitter(args.data, "three")
    position = {path: i for i, path in enumerate(everything.paths)}
    base = TrainConfig(weights=args.weights, device=args.device)
    needs_zoom = any("zoom" in r for r in args.recipes)
    frozen = prepare_cache(everything, replace(base, predict_views=VIEW_NAMES) if needs_zoom else base)
    finetune_caches: dict[str, FrozenOutputs] = {}
    per_seed: dict[str, dict[str, list[CrossValidationResult]]] = {
        s: {r: [] for r in args.recipes} for s in args.subsets
    }
    for seed in args.seeds:
        for subset in args.subsets:
            done_before = {r: len(per_seed[subset][r]) for r in args.recipes}
            dataset = load_twitter(args.data, subset)
            rows = torch.tensor([position[p] for p in dataset.paths])
            for recipe in args.recipes:
                overrides = RECIPES[recipe][1]
                if overrides.get("mode") == "finetune":
                    key = f"{overrides.get('trainable_from')}"
                    if key not in finetune_caches:
                        finetune_caches[key] = prepare_cache(everything, replace(base, **overrides))
                    cache = finetune_caches[key]
                else:
                    cache = frozen
                result = run_recipe(recipe, dataset, subset_cache(cache, rows), seed, base)
                per_seed[subset][recipe].append(result)
                extra = ""
                if RECIPES[recipe][0] == "nested":
                    extra = " blocks " + " | ".join("+".join(f.details["blocks"]) for f in result.folds)
                print(
                    f"seed {seed} {subset} {recipe}: accuracy {result.summary['accuracy']['mean']:.4f} "
                    f"± {result.summary['accuracy']['std']:.4f} ({result.seconds:.0f} s){extra}",
                    flush=True,
                )
            if args.write_each:  # a long run that is stopped keeps what it finished
                finished = {r: [res.to_dict() for res in per_seed[subset][r][done_before[r] :]] for r in args.recipes}
                part = {
                    "seeds": [seed],
                    "recipes": {r: recipe_record(r) for r in args.recipes},
                    "per_seed": {subset: finished},
                }
                write_json(f"{args.tag}-{subset}", part, data_root=args.data)
    as_dicts = {
        s: {r: [res.to_dict() for res in results] for r, results in rows.items()} for s, rows in per_seed.items()
    }
    table = {s: {r: over_seeds(results) for r, results in rows.items()} for s, rows in as_dicts.items()}
    markdown = markdown_over_seeds(table, args.seeds)
    print(markdown)
    for seed_number, seed in enumerate(args.seeds):
        print(f"fold seed {seed}:")
        print(markdown_table3({s: [rs[seed_number] for rs in rows.values()] for s, rows in per_seed.items()}))
    write_json(
        args.tag,
        {
            "seeds": args.seeds,
            "recipes": {r: recipe_record(r) for r in args.recipes},
            "base_config": base.to_dict(),
            "over_seeds": table,
            "markdown": markdown,
            "per_seed": as_dicts,
        },
        data_root=args.data,
    )


if __name__ == "__main__":
    main()
