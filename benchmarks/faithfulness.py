"""Faithfulness of sentilens' maps on held-out Twitter I images: every CAM method at every block,
the model-blind baselines, the sanity check.

Each image is explained with the model of the cross-validation fold that did not train on it: the
shipped checkpoint's recipe (frozen ImageNet inception_v3, auxiliary heads on its blocks, and its
companion network when it has one) trained on the other folds from the block-feature store
(cached, so a rerun does not train them again).  Three parts:

1. *default*: deletion and insertion AUC of the default map (``--method`` at ``--default-block``)
   on ``--images`` images in ``--steps`` steps against the model-blind orders (``--baselines``,
   by default all four: random cells of the block's grid, random pixels, centre first, border
   first), with the blurred fill
   (``--fills`` adds the mean fill), and ROAD on the first ``--road-images`` images of each fold;
   ``--also`` measures further methods at the default block on the same images beside it (e.g.
   ``--also occlusion``: occlusion of the block's cells, one forward pass per cell, cached);
   bootstrap 95 % intervals of the means and of the paired ratios; the issue's targets checked.
2. *sanity*: cascading randomisation (heads, then blocks from the top) of the default map on
   ``--sanity-images`` other images: median Spearman and SSIM against the trained maps.
3. *comparison*: on the first ``--grid-images`` images of part 1, every one-pass CAM method
   (``--methods``) at every block of ``--blocks`` (the shipped heads' blocks and the main head's),
   against ``--grid-baselines`` (random cells and centre first unless told), ranked by the mean of
   (insertion - deletion) per image, each with the paired interval of its difference to the
   default map.  Score-CAM (one forward pass per channel of the block: 1,280 at 7a) is not offered
   here.

Every part also reports the *ideal step*: the areas of a map that would move the verdict all the
way with its first portion of pixels (deletion straight to the removed image's probability,
insertion straight to the intact image's), the most any order gains unless partly removed images
move the verdict further than the whole removal.  Fold models follow the shipped checkpoint's
recipe, its companion network's read-out included (fitted on the fold's training images).

They run in the order sanity, comparison, default, and part 1 measures ``--chunk`` images at a
time, so that ``--default-seconds`` can bound the end of a run on a busy machine (part 1 then
holds the images measured in time, which the result file says).  A part given 0 images is
skipped (so the parts can run as separate commands); ``--skip N`` starts part 1 at the N-th
image, so that a second run measures other images, and ``--summarise A.json B.json`` prints part 1
of such runs as one sample.
Images are taken from the folds in turn (fold 0's first held-out image, fold 1's, ...) in a seeded
order.  CAMs are cached under ``$SENTILENS_CACHE/faithfulness``; the parts measured so far are
saved there too (``<tag>-partial.json``).

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
    DEFAULT_CAM_BLOCKS,
    DEFAULT_CAM_METHOD,
    ONE_PASS_METHODS,
    Baseline,
    CamMethod,
    Explainer,
    FaithfulnessReport,
    Fill,
    ImageFaithfulness,
    bootstrap,
    cam_maps,
    grad_cam,
    gradcam_maps,
    measure_faithfulness,
    occlusion,
    sanity_check,
)
from sentilens.explain.faithfulness import road_scores
from sentilens.models import SentimentModel, build_model, read_payload
from sentilens.training import TrainConfig, prepare_cache
from sentilens.training.companion_fit import companion_features, fit_read_out
from sentilens.utils.cache import cache_root

#: The blocks of the shipped model's heads (6c, 6d, 7a) and the main head's (7c).
BLOCKS = ("6c", "6d", "7a", "7c")


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
            if model.companion is not None:
                # As cross-validation does (evaluation.companion): the read-out from the fold's training images.
                features = companion_features(config.architecture, dataset.paths, batch_size=config.batch_size)
                fit_read_out(features[list(fold.train)], labels[list(fold.train)]).install(model.companion)
                probabilities = held_out_probabilities(model, [dataset.paths[i] for i in fold.test])
            accuracy = float((probabilities.argmax(1) == labels[list(fold.test)]).mean())
            print(f"fold {fold.number}: held-out accuracy {accuracy:.3f}", flush=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(model.state_dict(), path.with_suffix(".tmp"))
            path.with_suffix(".tmp").replace(path)
        models.append(model.eval())
    return models


@torch.no_grad()
def held_out_probabilities(model: SentimentModel, paths: Sequence[Path], batch: int = 16) -> np.ndarray:
    """The fused class probabilities of the images at ``paths`` (centre view), ``batch`` at a time."""
    side = model.backbone.input_size
    found = []
    for start in range(0, len(paths), batch):
        images = torch.stack([to_unit_range(load_view(path, side)) for path in paths[start : start + batch]])
        found.append(model.eval().predict_proba(images))
    return torch.cat(found).numpy()


def model_tag(config: TrainConfig) -> str:
    """The CAM and occlusion caches' key for the fold models of ``config`` (maps of one recipe's
    models are never read back for another's)."""
    return "fold-model-" + hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:12]


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


def cached_occlusion(
    verdict: Any, images: torch.Tensor, names: Sequence[str], grid: tuple[int, int], fold: int, tag: str
) -> tuple[np.ndarray, float]:
    """Occlusion maps (blurred fill, each image's predicted class) of ``grid``'s cells and the seconds
    they took (0 when read from the cache)."""
    key = hashlib.sha256(f"{tag}|occlusion|{fold}|{'|'.join(names)}|{grid}".encode()).hexdigest()[:24]
    path = cache_root("faithfulness") / f"occlusion-{key}.npy"
    if path.is_file():
        return np.load(path), 0.0
    began = time.perf_counter()
    maps = occlusion(verdict, images, grid).maps
    seconds = time.perf_counter() - began
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".tmp"), "wb") as partial:
        np.save(partial, maps)
    path.with_suffix(".tmp").replace(path)
    return maps, seconds


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


class ChannelsLast:
    """The model's verdict with its input in channels-last layout (1.6x faster convolutions on
    this CPU; the same arithmetic, so the same probabilities up to float rounding)."""

    def __init__(self, model: SentimentModel) -> None:
        self.model = model

    def predict_proba(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.predict_proba(images.contiguous(memory_format=torch.channels_last))


def measure(
    models: Sequence[SentimentModel],
    picks: Sequence[tuple[int, int]],
    paths: Sequence[Path],
    maps: Sequence[tuple[CamMethod, str]],
    baselines: Sequence[Baseline],
    fills: Sequence[Fill],
    steps: int,
    seed: int,
    tag: str,
    road: int = 0,
    batch_size: int = 32,
    chunk: int = 0,
    until: float | None = None,
    map_seconds: dict[str, float] | None = None,
) -> dict[Fill, FaithfulnessReport]:
    """Faithfulness of the ``(method, block)`` maps for the picked images under each fill, each
    image with its fold's model, ``chunk`` images at a time (0: all at once), every fill on the
    same images; ROAD (blurred fill's report) for every map on the first ``road`` images of each
    fold.  No chunk is started after ``until`` (a ``time.perf_counter()`` value) once one
    has been measured: the reports hold the images measured.  ``map_seconds`` collects the seconds
    spent computing occlusion maps and their count (``occlusion``, ``occlusion_images``); ``tag``
    keys the map caches (:func:`model_tag`)."""
    reports: dict[Fill, list[FaithfulnessReport]] = {fill: [] for fill in fills}
    road_done = [0] * len(models)  # ROAD'd images per fold, over all chunks
    first_fill = fills[0]
    blocks = list(dict.fromkeys(block for method, block in maps if method != CamMethod.occlusion))
    size = chunk or len(picks)
    for start in range(0, len(picks), size):
        if until is not None and reports[first_fill] and time.perf_counter() > until:
            done = len(merged(reports[first_fill]).images)
            print(f"time budget spent: {done} of {len(picks)} images measured", flush=True)
            break
        part = picks[start : start + size]
        for fold, model in enumerate(models):
            mine = [index for number, index in part if number == fold]
            if not mine:
                continue
            names = [paths[i].name for i in mine]
            images = torch.stack([to_unit_range(load_view(paths[i], model.backbone.input_size)) for i in mine])
            verdict = ChannelsLast(model)
            cams = cached_cams(model, images, names, blocks, fold, tag) if blocks else {}
            for method, block in maps:
                if method == CamMethod.occlusion:
                    found, spent = cached_occlusion(verdict, images, names, grids(model, [block])[block], fold, tag)
                    cams[method, block] = found
                    if map_seconds is not None and spent:
                        map_seconds["occlusion"] = map_seconds.get("occlusion", 0.0) + spent
                        map_seconds["occlusion_images"] = map_seconds.get("occlusion_images", 0) + len(mine)
            # The random-cells baseline shuffles the cells of the first map's grid.
            grid = grids(model, [maps[0][1]])[maps[0][1]]
            explainers = [Explainer(f"{m.value} {b}", cached(cams[m, b]), grid) for m, b in maps]
            began = time.perf_counter()
            part_seed = seed + fold + 1000 * start
            for fill in fills:
                reports[fill].append(
                    measure_faithfulness(
                        verdict, images, explainers, names, baselines, fill, steps, False, part_seed, batch_size
                    )
                )
            todo = min(max(road - road_done[fold], 0), len(mine))
            if todo:
                road_done[fold] += todo
                measured = reports[first_fill][-1].images
                targets = [image.target for image in measured[:todo]]
                for explainer in explainers:
                    scores = road_scores(verdict, images[:todo], explainer.maps(images)[:todo], targets)
                    for image, morf, lerf in zip(measured, scores["road-morf"], scores["road-lerf"]):
                        image.road[explainer.name] = {"road-morf": float(morf), "road-lerf": float(lerf)}
            seconds = time.perf_counter() - began
            done = len(merged(reports[first_fill]).images)
            print(f"fold {fold}: {len(mine)} images measured in {seconds:.0f} s ({done} so far)", flush=True)
    return {fill: merged(found) for fill, found in reports.items()}


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
    ideal = summary.get("ideal_step")
    if ideal:
        ratio = {kind: ideal[f"{kind}_ratio"][baseline]["mean"] for kind in ("deletion", "insertion")}
        rows.append(
            [
                "(ideal step)",
                "{mean:.3f} [{low:.3f}, {high:.3f}]".format(**ideal["deletion"]),
                "{mean:.3f} [{low:.3f}, {high:.3f}]".format(**ideal["insertion"]),
                f"{ratio['deletion']:.2f} / {ratio['insertion']:.2f}",
            ]
        )
    return rows


HEADERS = ["order", "deletion AUC", "insertion AUC", "ratio to random cells"]


def ranked(report: FaithfulnessReport, reference: str, seed: int) -> list[dict[str, Any]]:
    """The report's maps by mean (insertion - deletion) per image, best first, each with its
    interval and the paired interval of its difference to ``reference``'s score (same images)."""
    gaps = {name: report.values("insertion", name) - report.values("deletion", name) for name in report.explainers}
    rows = []
    for name in sorted(gaps, key=lambda n: -float(gaps[n].mean())):
        score, theirs = bootstrap(gaps[name], seed=seed), bootstrap(gaps[reference], seed=seed)
        difference = bootstrap(gaps[name] - gaps[reference], seed=seed)
        rows.append(
            {
                "map": name,
                **score.to_dict("mean"),
                f"minus_{reference.replace(' ', '_')}": difference.to_dict("mean"),
                "intervals_apart_from_reference": score.apart_below(theirs) or theirs.apart_below(score),
            }
        )
    return rows


def cost_part(
    models: Sequence[SentimentModel], picks: Sequence[tuple[int, int]], paths: Sequence[Path], args: argparse.Namespace
) -> dict[str, Any]:
    """Wall seconds per image of the default map and of occlusion at the default block, as the
    commands draw them (``grad_cam``, one image at a time, the fold's model) on the picked images."""
    seconds: dict[str, list[float]] = {}
    for fold, index in picks:
        model = models[fold]
        image = to_unit_range(load_view(paths[index], model.backbone.input_size))[None]
        for method in dict.fromkeys([CamMethod(args.method), CamMethod.occlusion]):
            began = time.perf_counter()
            grad_cam(model, image, args.default_block, method=method)
            seconds.setdefault(method.value, []).append(time.perf_counter() - began)
    cost = {method: {"mean_s": float(np.mean(v)), "per_image_s": v} for method, v in seconds.items()}
    print(f"\nseconds per image at {args.default_block}:", {m: round(c["mean_s"], 2) for m, c in cost.items()})
    return {"images": len(picks), "threads": torch.get_num_threads(), "block": args.default_block, "methods": cost}


def versus(report: FaithfulnessReport, name: str, reference: str, seed: int) -> dict[str, Any]:
    """Map ``name`` against map ``reference`` on the same images: paired ratios of the mean deletion
    and insertion AUC (name / reference) and the paired difference of insertion - deletion."""
    gap = report.values("insertion", name) - report.values("deletion", name)
    theirs = report.values("insertion", reference) - report.values("deletion", reference)
    return {
        kind: bootstrap(report.values(kind, name), report.values(kind, reference), seed=seed).to_dict("mean")
        for kind in ("deletion", "insertion")
    } | {"insertion_minus_deletion_difference": bootstrap(gap - theirs, seed=seed).to_dict("mean")}


def from_dict(part: dict[str, Any]) -> FaithfulnessReport:
    """A report as ``FaithfulnessReport.to_dict`` wrote it."""
    images = [ImageFaithfulness(**image) for image in part["per_image"]]
    return FaithfulnessReport(images, part["explainers"], part["baselines"], part["fill"], part["steps"], part["seed"])


def summarise(paths: Sequence[Path]) -> None:
    """Part 1 of result files (runs on disjoint images, ``--skip``, with the same maps and settings)
    as tables of all their images: each order's AUCs, each map's paired ratios to each baseline,
    and each further map against the default map (same images, same fill)."""
    parts = [json.loads(path.read_text(encoding="utf-8"))["default"] for path in paths]
    for fill in ("blur", "mean"):
        if any(fill not in part for part in parts):
            continue
        report = merged([from_dict(part[fill]) for part in parts])
        summary = report.summary()
        print(f"\n{len(report.images)} images, {report.steps} steps, {fill} fill")
        rows = []
        for order in [*report.explainers, *report.baselines]:
            cells = [order] + [
                "{mean:.3f} [{low:.3f}, {high:.3f}]".format(**summary["orders"][order][kind])
                for kind in ("deletion", "insertion")
            ]
            for baseline in report.baselines:
                ratio = summary["ratios"].get(order, {}).get(baseline)
                cells.append(
                    ""
                    if ratio is None
                    else "; ".join(
                        "{mean:.2f} [{low:.2f}, {high:.2f}]".format(**ratio[kind]) for kind in ("deletion", "insertion")
                    )
                )
            rows.append(cells)
        print_table(["order", "deletion AUC", "insertion AUC", *[f"/ {b} (del; ins)" for b in report.baselines]], rows)
        for name in report.explainers[1:]:
            found = versus(report, name, report.explainers[0], report.seed)
            print(f"{name} / {report.explainers[0]}:", json.dumps(found))
        for name in report.explainers:
            print(f"targets of {name}:", targets_of(report, name))


def targets_of(report: FaithfulnessReport, name: str) -> dict[str, bool]:
    """The issue's targets for map ``name`` (intervals: the whole 95 % interval past the bound)."""
    summary = report.summary()
    cells = summary["ratios"][name]["random-cells"]
    orders = summary["orders"]
    return {
        "deletion_ratio_to_random_cells_at_most_0.85": cells["deletion"]["high"] <= 0.85,
        "insertion_ratio_to_random_cells_at_least_1.3": cells["insertion"]["low"] >= 1.3,
        "deletion_below_centre_first_intervals_apart": orders[name]["deletion"]["high"]
        < orders["centre-first"]["deletion"]["low"],
        "insertion_above_centre_first_intervals_apart": orders["centre-first"]["insertion"]["high"]
        < orders[name]["insertion"]["low"],
    }


def sanity_part(
    models: Sequence[SentimentModel],
    picks: Sequence[tuple[int, int]],
    paths: Sequence[Path],
    method: CamMethod,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Cascading randomisation of the default map on the picked images: median Spearman and SSIM
    of each step's maps against the trained maps."""
    steps: dict[str, list[dict[str, float]]] = {}
    count = 0
    for fold, model in enumerate(models):
        mine = [index for number, index in picks if number == fold]
        if not mine:
            continue
        images = torch.stack([to_unit_range(load_view(paths[i], model.backbone.input_size)) for i in mine])
        found = sanity_check(
            model, images, gradcam_maps(args.default_block, method), depth=args.sanity_depth, seed=args.seed
        )
        count += len(mine)
        for step in found.steps:
            steps.setdefault(step.randomised, []).extend(
                {"spearman": r, "ssim": s} for r, s in zip(step.rank_correlation, step.ssim)
            )
    sanity = {
        name: {
            "median_spearman": float(np.median([v["spearman"] for v in values])),
            "median_ssim": float(np.median([v["ssim"] for v in values])),
            "values": values,
        }
        for name, values in steps.items()
    }
    print(f"\nsanity check of {method.value} {args.default_block} on {count} images", flush=True)
    print_table(
        ["randomised (cumulative)", "median Spearman", "median SSIM"],
        [[name, f"{s['median_spearman']:.3f}", f"{s['median_ssim']:.3f}"] for name, s in sanity.items()],
    )
    return {"map": f"{method.value} {args.default_block}", "images": count, "steps": sanity}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--subset", default="five")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--use-folds", type=int, default=None, help="draw images from (and train models for) only the first N folds"
    )
    parser.add_argument("--method", default=DEFAULT_CAM_METHOD.value, help="the default map's method")
    parser.add_argument("--default-block", default=DEFAULT_CAM_BLOCKS["inception_v3"], help="the default map's block")
    parser.add_argument(
        "--also", nargs="*", default=[], help="methods measured beside the default map in part 1 (e.g. occlusion)"
    )
    parser.add_argument("--cost-images", type=int, default=0, help="time the default map and occlusion on N images")
    parser.add_argument("--blocks", nargs="+", default=list(BLOCKS), help="blocks of the method in part 1")
    parser.add_argument("--methods", nargs="+", default=[m.value for m in ONE_PASS_METHODS], help="at the block")
    parser.add_argument("--grid-images", type=int, default=200, help="images of part 3 (the comparison)")
    parser.add_argument("--images", type=int, default=200, help="images of part 1 (the default map)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--fills", nargs="+", default=["blur"], choices=[f.value for f in Fill])
    parser.add_argument("--baselines", nargs="+", default=[b.value for b in Baseline], help="orders of part 1")
    parser.add_argument(
        "--grid-baselines", nargs="+", default=["random-cells", "centre-first"], help="orders of part 3"
    )
    parser.add_argument("--road-images", type=int, default=4, help="ROAD of the default map on the first N per fold")
    parser.add_argument("--sanity-images", type=int, default=30)
    parser.add_argument("--sanity-depth", type=int, default=3, help="blocks randomised below the heads")
    parser.add_argument("--batch-size", type=int, default=32, help="perturbed images per forward pass")
    parser.add_argument("--chunk", type=int, default=20, help="images of part 1 measured at a time")
    parser.add_argument(
        "--default-seconds",
        type=float,
        default=None,
        help="part 1 starts no chunk after this many seconds (it then holds fewer than --images images)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--quick", action="store_true", help="two images per part, two blocks, two methods")
    parser.add_argument("--tag", default="faithfulness", help="result file name (never overwritten)")
    parser.add_argument("--skip", type=int, default=0, help="part 1 starts at this image of the order")
    parser.add_argument("--summarise", type=Path, nargs="+", help="print part 1 of result files and stop")
    parser.add_argument(
        "--keep-partial",
        metavar="WHY",
        help="write the parts that a stopped run of --tag saved (its -partial.json) as a result file, saying WHY",
    )
    args = parser.parse_args()
    if args.summarise:
        summarise(args.summarise)
        return
    if args.keep_partial:
        partial = cache_root("faithfulness") / f"{args.tag}-partial.json"
        kept = json.loads(partial.read_text(encoding="utf-8"))
        write_json(
            args.tag, kept | {"kept_from_a_stopped_run": {"file": partial.name, "why": args.keep_partial}}, args.data
        )
        return
    if args.quick:
        args.grid_images, args.images, args.steps = 2, 2, 3
        args.road_images, args.sanity_images, args.sanity_depth = 1, 1, 1
        args.methods, args.blocks = [args.method, "gradcam++"], [args.default_block, "7c"]
    if args.threads:
        torch.set_num_threads(args.threads)
    began = time.perf_counter()
    dataset = load_twitter(args.data, args.subset)
    config = TrainConfig.from_dict(read_payload(default_model_path())["config"])
    folds = make_folds(dataset, args.folds, args.seed)[: args.use_folds]
    models = fold_models(dataset, folds, config, args.seed)
    for model in models:
        model.to(memory_format=torch.channels_last)
    order = interleaved(folds, args.seed)
    # Part 1's images are the first of part 2's (unless --skip): the default map is measured on all of them.
    grid_picks = order[: args.grid_images]
    default_picks = order[args.skip : args.skip + args.images]
    sanity_picks = order[max(args.skip + args.images, args.grid_images) :][: args.sanity_images]
    method = CamMethod(args.method)
    default = f"{method.value} {args.default_block}"
    # Every method at every block, the default map first (the reference of the ranking).
    grid = [(method, args.default_block)]
    grid += [(CamMethod(m), b) for b in args.blocks for m in args.methods if (CamMethod(m), b) != grid[0]]
    tag = model_tag(config)
    record: dict[str, Any] = {
        "benchmark": "faithfulness of the maps (issue 24)",
        "dataset": f"Twitter I {args.subset} agree, {args.folds} folds (seed {args.seed}), images from "
        f"{len(folds)} of them; each image explained by the model of the fold that held it out",
        "model": config.to_dict(),
        "verdict": "fused probability of the class the model predicts (eq. 4)",
        "default_map": default,
        "part_1_images_from": args.skip,
    }
    if args.cost_images:
        record["cost"] = cost_part(models, order[: args.cost_images], dataset.paths, args)
        save_partial(args.tag, record)
    sanity_target = None
    if sanity_picks:
        record["sanity"] = sanity_part(models, sanity_picks, dataset.paths, method, args)
        heads = record["sanity"]["steps"].get("heads", {})
        sanity_target = bool(heads.get("median_spearman", 1) <= 0.3)
        save_partial(args.tag, record)
    if grid_picks:
        compare = measure(
            models,
            grid_picks,
            dataset.paths,
            grid,
            [Baseline(b) for b in args.grid_baselines],
            [Fill.blur],
            args.steps,
            args.seed,
            tag,
            batch_size=args.batch_size,
            chunk=args.chunk,
        )[Fill.blur]
        ranking = ranked(compare, default, args.seed)
        print(f"\ncomparison: {len(compare.images)} images, {args.steps} steps, blurred fill", flush=True)
        print_table(HEADERS, table(compare, "random-cells"))
        print("ranking:", [(r["map"], round(r["mean"], 3)) for r in ranking], flush=True)
        record["compare"] = {
            "images": len(compare.images),
            "steps": args.steps,
            "ranking_by_insertion_minus_deletion": ranking,
            "report": compare.to_dict(),
        }
        save_partial(args.tag, record)
    targets: dict[str, Any] = {}
    if default_picks:
        also = [(CamMethod(m), args.default_block) for m in args.also if CamMethod(m) != method]
        map_seconds: dict[str, float] = {}
        measured = measure(
            models,
            default_picks,
            dataset.paths,
            [(method, args.default_block), *also],
            [Baseline(b) for b in args.baselines],
            [Fill(f) for f in args.fills],
            args.steps,
            args.seed,
            tag,
            road=args.road_images,
            batch_size=args.batch_size,
            chunk=args.chunk,
            until=None if args.default_seconds is None else time.perf_counter() + args.default_seconds,
            map_seconds=map_seconds,
        )
        parts = {fill.value: report for fill, report in measured.items()}
        for fill, report in parts.items():
            print(f"\n{len(report.images)} images, {args.steps} steps, {fill} fill", flush=True)
            print_table(HEADERS, table(report, "random-cells"))
        first = parts[args.fills[0]]
        if first.summary()["road"]:
            print("ROAD:", first.summary()["road"], flush=True)
        targets = targets_of(first, default)
        if also:
            targets["per_map_and_fill"] = {
                fill: {name: targets_of(report, name) for name in report.explainers} for fill, report in parts.items()
            }
            record["versus_default"] = {
                fill: {name: versus(report, name, default, args.seed) for name in report.explainers[1:]}
                for fill, report in parts.items()
            }
        record["default"] = {
            "map": default,
            "also": [f"{m.value} {b}" for m, b in also],
            "images": len(first.images),
            "steps": args.steps,
            "occlusion_map_seconds": map_seconds,
            **{fill: report.to_dict() for fill, report in parts.items()},
        }
        save_partial(args.tag, record)
    if sanity_target is not None:
        targets["sanity_median_spearman_heads_at_most_0.3"] = sanity_target
    record["targets_of_the_default_map"] = targets
    record["seconds"] = round(time.perf_counter() - began, 1)
    print("\ntargets:", targets)
    write_json(args.tag, record, data_root=args.data)


if __name__ == "__main__":
    main()
