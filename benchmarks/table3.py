"""Table 3: 5-fold cross-validation on the three Twitter I subsets, ours beside the paper.

Runs each named recipe (and the logistic-regression floor on frozen pooled features) on the same
folds and writes ``benchmarks/results/table3.json`` and ``table3.md``.  Frozen work is shared:
images are decoded once and the frozen blocks run once per view for the largest subset (three
agree), whose images include the other two subsets'.

    python benchmarks/table3.py --recipes frozen-aux frozen-noaux --baseline
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from sentilens.data import TWITTER_SUBSETS, load_twitter
from sentilens.evaluation import cross_validate, cross_validate_logistic, markdown_table3, prepare_cache, table3_json
from sentilens.training import TrainConfig, ViewCache

RECIPES: dict[str, dict] = {
    "frozen-aux": dict(mode="frozen"),
    "frozen-noaux": dict(mode="frozen", taps=()),
    "finetune7a-aux": dict(mode="finetune", trainable_from="7a"),
    "finetune7a-noaux": dict(mode="finetune", trainable_from="7a", taps=()),
    "full-aux": dict(mode="finetune", precision="bf16"),
    "full-noaux": dict(mode="finetune", taps=(), precision="bf16"),
}


def subset_cache(cache: ViewCache, indices: torch.Tensor) -> ViewCache:
    """The rows ``indices`` of a cache built for a superset of images."""
    return ViewCache(
        cache.boundary,
        {v: t[indices] for v, t in cache.inputs.items()},
        {v: {k: t[indices] for k, t in d.items()} for v, d in cache.pooled.items()},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/twitter1")
    parser.add_argument("--recipes", nargs="+", default=["frozen-aux", "frozen-noaux"], choices=sorted(RECIPES))
    parser.add_argument("--subsets", nargs="+", default=list(TWITTER_SUBSETS), choices=TWITTER_SUBSETS)
    parser.add_argument("--baseline", action="store_true", help="also the logistic-regression floor")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", default="imagenet")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--tag", default="table3")
    args = parser.parse_args()

    everything = load_twitter(args.data, "three")
    position = {path: i for i, path in enumerate(everything.paths)}
    datasets = {s: load_twitter(args.data, s) for s in args.subsets}
    results: dict[str, list] = {s: [] for s in args.subsets}
    timings: dict[str, float] = {}
    shared_frozen: ViewCache | None = None
    for recipe in args.recipes:
        config = TrainConfig(
            **RECIPES[recipe], weights=args.weights, device=args.device, seed=args.seed, epochs=args.epochs
        )
        began = time.perf_counter()
        if config.mode == "frozen" and shared_frozen is not None and not config.taps:
            cache = shared_frozen
        else:
            cache = prepare_cache(everything, config)
        if config.mode == "frozen" and config.taps is None:
            shared_frozen = cache
        cache_seconds = time.perf_counter() - began
        for subset, dataset in datasets.items():
            rows = torch.tensor([position[p] for p in dataset.paths])
            result = cross_validate(dataset, config, 5, args.seed, cache=subset_cache(cache, rows), model_name=recipe)
            results[subset].append(result)
            print(
                f"{recipe} {subset}: accuracy {result.summary['accuracy']['mean']:.4f} "
                f"± {result.summary['accuracy']['std']:.4f} ({result.seconds:.0f} s)",
                flush=True,
            )
        timings[recipe] = time.perf_counter() - began
        print(f"{recipe}: shared frozen pass {cache_seconds:.0f} s, total {timings[recipe]:.0f} s", flush=True)
    if args.baseline:
        if shared_frozen is None:
            shared_frozen = prepare_cache(
                everything, TrainConfig(mode="frozen", weights=args.weights, device=args.device)
            )
        for subset, dataset in datasets.items():
            rows = torch.tensor([position[p] for p in dataset.paths])
            results[subset].append(cross_validate_logistic(dataset, subset_cache(shared_frozen, rows), 5, args.seed))
    args.out.mkdir(parents=True, exist_ok=True)
    summary = table3_json(results)
    summary["_run"] = {
        "recipes": {r: RECIPES[r] for r in args.recipes},
        "seconds": timings,
        "device": torch.cuda.get_device_name()
        if torch.cuda.is_available() and args.device != "cpu"
        else platform.processor() or "cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "seed": args.seed,
    }
    (args.out / f"{args.tag}.json").write_text(json.dumps(summary, indent=2))
    (args.out / f"{args.tag}.md").write_text(markdown_table3(results))
    (args.out / f"{args.tag}_folds.json").write_text(
        json.dumps({s: [r.to_dict() for r in rs] for s, rs in results.items()}, indent=2)
    )
    print(markdown_table3(results))


if __name__ == "__main__":
    main()
