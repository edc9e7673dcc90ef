"""Faithfulness of sentilens' maps on held-out Twitter I images: every CAM method x block, baselines,
sanity check.

Each image is explained with the model of the cross-validation fold that did not train on it: the
shipped recipe (frozen ImageNet inception_v3, auxiliary heads on 6c, 6d, 7a) trained on the other
folds from the block-feature store, so the heads train in seconds.  Three parts, on disjoint images:

1. *compare*: deletion and insertion AUC (blurred fill) of every method at every block, with the
   random-cells and centre-first orders, on ``--compare-images`` images in ``--compare-steps`` steps;
   the method and block with the highest mean (insertion - deletion) is the most faithful.
2. *default*: that map (or ``--default``) on ``--default-images`` other images in ``--steps``
   steps against all four model-blind orders, with the blurred and the mean fill, and ROAD on the
   first ``--road-images``; bootstrap 95 % intervals of the means and of the paired ratios; the
   issue's targets checked.
3. *sanity*: cascading randomisation (heads, then blocks from the top) of the default map on
   ``--sanity-images`` images: median Spearman and SSIM against the trained maps.

Images are taken from the folds in turn (fold 0's first held-out image, fold 1's, ...) in a seeded
order.  CAMs are cached under ``$SENTILENS_CACHE/faithfulness``.

    PYTHONPATH=src SENTILENS_PROGRESS=0 python benchmarks/faithfulness.py            # the full design
    PYTHONPATH=src SENTILENS_PROGRESS=0 python benchmarks/faithfulness.py --quick    # minutes
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common import DATA, print_table, write_json
from sentilens.app.classifier import default_model_path
from sentilens.data import load_twitter, load_view, make_folds, to_unit_range
from sentilens.evaluation.crossval import train_and_predict
from sentilens.explain import (
    ONE_PASS_METHODS,
    Baseline,
    CamMethod,
    Explainer,
    FaithfulnessReport,
    Fill,
    bootstrap,
    cam_maps,
    gradcam_maps,
    measure_faithfulness,
    sanity_check,
)
from sentilens.explain.faithfulness import road_scores
from sentilens.models import SentimentModel, build_model, read_payload
from sentilens.training import TrainConfig, prepare_cache
from sentilens.utils.cache import cache_root

BLOCKS = ("6c", "6d", "6e", "7a", "7b", "7c")


def fold_models(dataset: Any, folds: Sequence[Any], config: TrainConfig, seed: int) -> list[SentimentModel]:
    """One model per fold, trained on the other folds (as cross-validation trains it); kept in the
    cache (keyed by config, seed and fold indices) so that a rerun does not train them again."""
    labels = np.asarray(dataset.labels)
    frozen = None
    models = []
    for fold in folds:
        identity = f"{config.to_dict()}|{seed}|{fold.number}|{fold.train}|{fold.test}|{dataset.paths}"
        path = cache_root("faithfulness") / f"fold-model-{hashlib.sha256(identity.encode()).hexdigest()[:24]}.pt"
        model = build_model(config.architecture)
        if path.is_file():
            model.load_state_dict(torch.load(path, weights_only=True))
            print(f"fold {fold.number}: model from {path.name}", flush=True)
        else:
            frozen = frozen or prepare_cache(dataset, config)
            model, probabilities = train_and_predict(
                frozen, config, fold.train, fold.test, labels, seed + fold.number, f"fold {fold.number}"
            )
            accuracy = float((probabilities.argmax(1) == labels[list(fold.test)]).mean())
            print(f"fold {fold.number}: held-out accuracy {accuracy:.3f}", flush=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(model.state_dict(), path.with_suffix(".tmp"))
            path.with_suffix(".tmp").replace(path)
        models.append(model.eval())
    return models


def interleaved(folds: Sequence[Any], seed: int) -> list[tuple[int, int]]:
    """(fold, image index) pairs taking each fold's shuffled held-out images in turn."""
    rng = np.random.default_rng(seed)
    queues = [list(rng.permutation(np.asarray(fold.test))) for fold in folds]
    order = []
    while any(queues):
        for number, queue in enumerate(queues):
            if queue:
                order.append((number, int(queue.pop(0))))
    return order


def cached_cams(
    model: SentimentModel, images: torch.Tensor, names: Sequence[str], blocks: Sequence[str], fold: int, tag: str
) -> dict[tuple[CamMethod, str], np.ndarray]:
    """Every one-pass method at ``blocks`` for ``images``, from the CAM cache when computed before."""
    key = hashlib.sha256(f"{tag}|{fold}|{'|'.join(names)}|{'|'.join(blocks)}".encode()).hexdigest()[:24]
    path = cache_root("faithfulness") / f"cams-{key}.npz"
    if path.is_file():
        stored = np.load(path)
        return {(CamMethod(m), b): stored[f"{m}@{b}"] for m in ONE_PASS_METHODS for b in blocks}
    maps: dict[tuple[CamMethod, str], list[np.ndarray]] = {}
    for start in range(0, len(images), 4):
        found = cam_maps(model, images[start : start + 4], blocks)
        for key_, value in found.maps.items():
            maps.setdefault(key_, []).append(value)
    joined = {k: np.concatenate(v) for k, v in maps.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp.npz")
    np.savez_compressed(partial, **{f"{m.value}@{b}": v for (m, b), v in joined.items()})
    partial.replace(path)
    return joined


def grids(model: SentimentModel, blocks: Sequence[str]) -> dict[str, tuple[int, int]]:
    side = model.backbone.input_size
    with torch.no_grad():
        out = model.backbone(torch.zeros((1, 3, side, side)), blocks=tuple(blocks)).blocks
    return {b: (int(out[b].shape[-2]), int(out[b].shape[-1])) for b in blocks}


def save_partial(tag: str, record: dict[str, Any]) -> None:
    """The parts measured so far, in the cache (a long run that stops later keeps them)."""
    path = cache_root("faithfulness") / f"{tag}-partial.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    print(f"parts so far: {path}", flush=True)


def cached(maps: np.ndarray) -> Any:
    """A map function that returns maps computed before (for the images they were computed for)."""
    return lambda _images: maps


def merged(reports: Sequence[FaithfulnessReport]) -> FaithfulnessReport:
    """The per-fold reports as one (same explainers, baselines and settings)."""
    first = reports[0]
    images = [image for report in reports for image in report.images]
    return FaithfulnessReport(images, first.explainers, first.baselines, first.fill, first.steps, first.seed)


def measure(
    models: Sequence[SentimentModel],
    picks: Sequence[tuple[int, int]],
    paths: Sequence[Path],
    methods: Sequence[CamMethod],
    blocks: Sequence[str],
    baselines: Sequence[Baseline],
    fill: Fill,
    steps: int,
    seed: int,
    road: int = 0,
) -> FaithfulnessReport:
    """Faithfulness of ``methods`` x ``blocks`` for the picked images, each with its fold's model."""
    reports = []
    for fold, model in enumerate(models):
        mine = [index for number, index in picks if number == fold]
        if not mine:
            continue
        names = [paths[i].name for i in mine]
        images = torch.stack([to_unit_range(load_view(paths[i], model.backbone.input_size)) for i in mine])
        cams = cached_cams(model, images, names, blocks, fold, "fold-model-v1")
        grid = grids(model, blocks[-1:])[blocks[-1]]
        explainers = [Explainer(f"{m.value} {b}", cached(cams[m, b]), grid) for b in blocks for m in methods]
        reports.append(
            measure_faithfulness(model, images, explainers, names, baselines, fill, steps, False, seed + fold)
        )
        if road:
            first = explainers[0]
            targets = [image.target for image in reports[-1].images[:road]]
            scores = road_scores(model, images[:road], first.maps(images)[:road], targets)
            for image, morf, lerf in zip(reports[-1].images, scores["road-morf"], scores["road-lerf"]):
                image.road[first.name] = {"road-morf": float(morf), "road-lerf": float(lerf)}
        print(f"fold {fold}: {len(mine)} images measured", flush=True)
    return merged(reports)


def table(report: FaithfulnessReport, baseline: str) -> list[list[object]]:
    summary = report.summary()
    rows = []
    for order in [*report.explainers, *report.baselines]:
        d, i = summary["orders"][order]["deletion"], summary["orders"][order]["insertion"]
        ratio = summary["ratios"].get(order, {}).get(baseline)
        rows.append(
            [
                order,
                f"{d['mean']:.3f} [{d['low']:.3f}, {d['high']:.3f}]",
                f"{i['mean']:.3f} [{i['low']:.3f}, {i['high']:.3f}]",
                "" if ratio is None else f"{ratio['deletion']['mean']:.2f} / {ratio['insertion']['mean']:.2f}",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--subset", default="five")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--use-folds", type=int, default=None, help="draw images from (and train models for) only the first N folds"
    )
    parser.add_argument("--methods", nargs="+", default=[m.value for m in ONE_PASS_METHODS])
    parser.add_argument("--blocks", nargs="+", default=list(BLOCKS))
    parser.add_argument("--compare-images", type=int, default=200)
    parser.add_argument("--compare-steps", type=int, default=10)
    parser.add_argument("--default", default=None, help="'method block' measured in part 2 (default: part 1's best)")
    parser.add_argument("--default-images", type=int, default=200)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--fills", nargs="+", default=["blur", "mean"], choices=[f.value for f in Fill])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--road-images", type=int, default=20)
    parser.add_argument("--sanity-images", type=int, default=30)
    parser.add_argument("--sanity-depth", type=int, default=3, help="blocks randomised below the heads")
    parser.add_argument("--quick", action="store_true", help="two images per part, two methods, two blocks")
    parser.add_argument("--tag", default="faithfulness", help="result file name (never overwritten)")
    args = parser.parse_args()
    if args.quick:
        args.compare_images, args.compare_steps, args.default_images, args.steps = 2, 3, 2, 3
        args.road_images, args.sanity_images, args.sanity_depth = 1, 1, 1
        args.methods, args.blocks = ["gradcam", "gradcam++"], ["7a", "7c"]
    if args.threads:
        torch.set_num_threads(args.threads)
    began = time.perf_counter()
    dataset = load_twitter(args.data, args.subset)
    config = TrainConfig.from_dict(read_payload(default_model_path())["config"])
    folds = make_folds(dataset, args.folds, args.seed)[: args.use_folds]
    models = fold_models(dataset, folds, config, args.seed)
    order = interleaved(folds, args.seed)
    compare_picks = order[: args.compare_images]
    default_picks = order[args.compare_images : args.compare_images + args.default_images]
    sanity_picks = order[args.compare_images + args.default_images :][: args.sanity_images]
    methods = [CamMethod(m) for m in args.methods]
    record: dict[str, Any] = {
        "benchmark": "faithfulness of the maps (issue 24)",
        "dataset": f"Twitter I {args.subset} agree, {args.folds} folds (seed {args.seed}), images from "
        f"{len(folds)} of them; each image explained by the model of the fold that held it out",
        "model": config.to_dict(),
        "verdict": "fused probability of the class the model predicts (eq. 4)",
    }

    compare = measure(
        models,
        compare_picks,
        dataset.paths,
        methods,
        args.blocks,
        [Baseline.random_cells, Baseline.centre],
        Fill.blur,
        args.compare_steps,
        args.seed,
    )
    gaps = {name: compare.values("insertion", name) - compare.values("deletion", name) for name in compare.explainers}
    ranking = sorted(gaps, key=lambda name: -float(gaps[name].mean()))
    best = args.default or ranking[0]
    print(f"\npart 1: {len(compare.images)} images, {args.compare_steps} steps, blurred fill", flush=True)
    print_table(["order", "deletion AUC", "insertion AUC", "ratio to random cells"], table(compare, "random-cells"))
    record["compare"] = {
        "images": len(compare.images),
        "steps": args.compare_steps,
        "ranking_by_insertion_minus_deletion": [
            {"map": name, **bootstrap(gaps[name], seed=args.seed).to_dict()} for name in ranking
        ],
        "report": compare.to_dict(),
    }
    print(f"most faithful: {ranking[0]}; measured in part 2: {best}", flush=True)
    save_partial(args.tag, record)

    method, block = best.split(" ")
    parts = {}
    for fill in map(Fill, args.fills):
        report = measure(
            models,
            default_picks,
            dataset.paths,
            [CamMethod(method)],
            [block],
            list(Baseline),
            fill,
            args.steps,
            args.seed,
            road=args.road_images if fill == Fill.blur else 0,
        )
        print(f"\npart 2: {best}, {len(report.images)} other images, {args.steps} steps, {fill} fill", flush=True)
        print_table(["order", "deletion AUC", "insertion AUC", "ratio to random cells"], table(report, "random-cells"))
        parts[fill.value] = report
    summary = parts["blur"].summary()
    cells = summary["ratios"][best]["random-cells"]
    orders = summary["orders"]
    targets = {
        "deletion_ratio_to_random_cells_at_most_0.85": cells["deletion"]["high"] <= 0.85,
        "insertion_ratio_to_random_cells_at_least_1.3": cells["insertion"]["low"] >= 1.3,
        "deletion_below_centre_first_intervals_apart": orders[best]["deletion"]["high"]
        < orders["centre-first"]["deletion"]["low"],
        "insertion_above_centre_first_intervals_apart": orders["centre-first"]["insertion"]["high"]
        < orders[best]["insertion"]["low"],
    }
    record["default"] = {
        "map": best,
        "images": len(parts["blur"].images),
        "steps": args.steps,
        "targets": targets,
        **{fill: report.to_dict() for fill, report in parts.items()},
    }
    if summary["road"]:
        print("ROAD:", summary["road"], flush=True)
    save_partial(args.tag, record)

    sanity_steps: dict[str, list[dict[str, float]]] = {}
    sanity_images = 0
    for fold, model in enumerate(models):
        mine = [index for number, index in sanity_picks if number == fold]
        if not mine:
            continue
        images = torch.stack([to_unit_range(load_view(dataset.paths[i], model.backbone.input_size)) for i in mine])
        found = sanity_check(model, images, gradcam_maps(block, method), depth=args.sanity_depth, seed=args.seed)
        sanity_images += len(mine)
        for step in found.steps:
            sanity_steps.setdefault(step.randomised, []).extend(
                {"spearman": r, "ssim": s} for r, s in zip(step.rank_correlation, step.ssim)
            )
    sanity = {
        name: {
            "median_spearman": float(np.median([v["spearman"] for v in values])),
            "median_ssim": float(np.median([v["ssim"] for v in values])),
            "values": values,
        }
        for name, values in sanity_steps.items()
    }
    print(f"\npart 3: sanity check of {best} on {sanity_images} images", flush=True)
    print_table(
        ["randomised (cumulative)", "median Spearman", "median SSIM"],
        [[name, f"{s['median_spearman']:.3f}", f"{s['median_ssim']:.3f}"] for name, s in sanity.items()],
    )
    targets["sanity_median_spearman_heads_at_most_0.3"] = bool(sanity.get("heads", {}).get("median_spearman", 1) <= 0.3)
    record["sanity"] = {"map": best, "images": sanity_images, "steps": sanity}
    record["seconds"] = round(time.perf_counter() - began, 1)
    print("\ntargets:", targets)
    write_json(args.tag, record, data_root=args.data)


if __name__ == "__main__":
    main()
