"""Training speed: cached against recomputed frozen blocks, per-epoch times, cross-validation wall time.

Inception-v3 (ImageNet weights), CPU.  Images of three agree (a superset of five agree) are
decoded once and the blocks below ``7a`` run once per view (centre and mirror); the five-agree
runs use the rows of that cache.  Measured:

* seconds per epoch on fold 1 of five agree for frozen mode, and for fine-tuning from ``7a``
  with the frozen blocks cached (float32 and bfloat16 storage) or recomputed in every step,
  with the largest difference between the cached and recomputed losses and probabilities;
* wall time and accuracy of a 5-fold cross-validation on five agree, frozen mode and fine-tuning
  from ``7a`` on the bfloat16 cache (``--finetune-epochs`` epochs);
* with ``--full``, also one epoch of full fine-tuning (the whole backbone trains, so nothing
  below it can be cached) on the same fold;
* with ``--memory``, a 5-fold cross-validation on three agree (frozen, and fine-tuning from ``7a``
  for one epoch on the bfloat16 cache); the peak resident memory of this whole process, which
  holds more than one cross-validation needs, bounds theirs.

The frozen-mode features are the pooled outputs of ``7a``..``7c`` run on the cached input of
``7a``, the same computation as a full frozen pass, without repeating the lower blocks.

    python benchmarks/training_speed.py --memory
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from common import DATA, machine, peak_rss_gib, print_table, write_json
from sentilens.data import load_twitter, make_folds
from sentilens.data.decoding import decode_all
from sentilens.evaluation import cross_validate
from sentilens.evaluation.metrics import binary_metrics
from sentilens.models import build_model
from sentilens.training import FrozenOutputs, TrainConfig, fit, predict_cached, run_frozen_pass
from sentilens.training.frozen_pass import FINAL

BOUNDARY = "7a"


def frozen_from(cache: FrozenOutputs, config: TrainConfig) -> FrozenOutputs:
    """Frozen-mode cache (pooled blocks and final map) from a cache of the input of ``BOUNDARY``."""
    backbone = build_model(config.architecture).backbone.eval()
    pooled = {}
    with torch.inference_mode():
        for view, inputs in cache.inputs.items():
            finals = [
                backbone(inputs[i : i + 64].float(), start=BOUNDARY).final.mean(dim=(2, 3))
                for i in range(0, len(inputs), 64)
            ]
            pooled[view] = {**cache.pooled[view], FINAL: torch.cat(finals)}
    return FrozenOutputs(None, {}, pooled)


def rows_of(cache: FrozenOutputs, rows: torch.Tensor) -> FrozenOutputs:
    """The cache restricted to ``rows`` (a subset's images within the superset's cache)."""
    return FrozenOutputs(
        cache.boundary,
        {v: t[rows] for v, t in cache.inputs.items()},
        {v: {k: t[rows] for k, t in d.items()} for v, d in cache.pooled.items()},
        cache.recompute,
    )


def timed_fold(cache: FrozenOutputs, fold, labels: np.ndarray, config: TrainConfig) -> dict:
    """Train on one fold; seconds per epoch, losses, held-out probabilities and accuracy."""
    torch.manual_seed(config.seed)  # the same initial heads for every mode
    model = build_model(config.architecture)
    began = time.perf_counter()
    losses = fit(model, cache, fold.train, labels[list(fold.train)], config)
    seconds = (time.perf_counter() - began) / config.num_epochs
    probabilities = predict_cached(model, cache, fold.test, config.predict_views, precision=config.precision)
    accuracy = binary_metrics(labels[list(fold.test)], probabilities.argmax(axis=1))["accuracy"]
    return {"seconds_per_epoch": seconds, "losses": losses, "probabilities": probabilities, "accuracy": accuracy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--probe-epochs", type=int, default=1, help="epochs timed per mode on fold 1")
    parser.add_argument("--finetune-epochs", type=int, default=2, help="epochs of the fine-tuning cross-validation")
    parser.add_argument("--no-cv", action="store_true", help="only the per-epoch timings on fold 1")
    parser.add_argument("--memory", action="store_true", help="also the 5-fold cross-validations on three agree")
    parser.add_argument("--full", action="store_true", help="also time one epoch of full fine-tuning on fold 1")
    parser.add_argument("--limit", type=int, default=None, help="first N images of three agree only (a quick check)")
    parser.add_argument("--tag", default="training")
    args = parser.parse_args()
    result: dict = {"machine": machine(), "boundary": BOUNDARY}

    three, five = load_twitter(args.data, "three"), load_twitter(args.data, "five")
    if args.limit:
        three = three.subset(list(range(args.limit)))
        five = five.subset([i for i, path in enumerate(five.paths) if path in set(three.paths)])
    finetune = TrainConfig(mode="finetune", trainable_from=BOUNDARY, device="cpu", epochs=args.probe_epochs)
    frozen = TrainConfig(mode="frozen", device="cpu")
    template = build_model(finetune.architecture)
    began = time.perf_counter()
    images = decode_all(three.paths, template.backbone.input_size).images
    result["decode_seconds_three_agree"] = time.perf_counter() - began
    began = time.perf_counter()
    cache32 = run_frozen_pass(template.backbone, images, template.blocks, BOUNDARY)
    result["cache_seconds_three_agree"] = time.perf_counter() - began
    cache16 = FrozenOutputs(BOUNDARY, {v: t.to(torch.bfloat16) for v, t in cache32.inputs.items()}, cache32.pooled)
    recomputed = run_frozen_pass(template.backbone, images, template.blocks, BOUNDARY, recompute=True)
    began = time.perf_counter()
    frozen_cache = frozen_from(cache32, frozen)
    result["frozen_features_seconds_three_agree"] = time.perf_counter() - began

    position = {path: i for i, path in enumerate(three.paths)}
    rows = torch.tensor([position[p] for p in five.paths])
    labels = np.asarray(five.labels)
    fold = make_folds(five)[0]
    probes = {
        "frozen (pooled features cached)": (rows_of(frozen_cache, rows), frozen),
        "finetune 7a, cached fp32": (rows_of(cache32, rows), finetune),
        "finetune 7a, cached bf16": (rows_of(cache16, rows), finetune),
        "finetune 7a, recomputed": (rows_of(recomputed, rows), finetune),
    }
    if args.full:
        full_cache = run_frozen_pass(template.backbone, images, template.blocks, template.backbone.stage_names[0])
        full = TrainConfig(mode="finetune", device="cpu", epochs=args.probe_epochs)
        probes["full fine-tuning (whole backbone)"] = (rows_of(full_cache, rows), full)
    per_epoch = {}
    for name, (cache, config) in probes.items():
        per_epoch[name] = timed_fold(cache, fold, labels, config)
        print(f"{name}: {per_epoch[name]['seconds_per_epoch']:.1f} s/epoch", flush=True)
    cached, recomputed_run = per_epoch["finetune 7a, cached fp32"], per_epoch["finetune 7a, recomputed"]
    result["cached_vs_recomputed"] = {
        "speedup_per_epoch": recomputed_run["seconds_per_epoch"] / cached["seconds_per_epoch"],
        "max_loss_difference": float(np.abs(np.subtract(cached["losses"], recomputed_run["losses"])).max()),
        "max_probability_difference": float(np.abs(cached["probabilities"] - recomputed_run["probabilities"]).max()),
    }
    result["fold1_five_agree"] = {
        name: {
            "seconds_per_epoch": r["seconds_per_epoch"],
            "epochs": probes[name][1].num_epochs,
            "losses": r["losses"],
            "accuracy": r["accuracy"],
        }
        for name, r in per_epoch.items()
    }

    cv_runs = (
        {}
        if args.no_cv
        else {
            "five agree, frozen": (five, rows_of(frozen_cache, rows), frozen),
            f"five agree, finetune 7a bf16 cache, {args.finetune_epochs} epochs": (
                five,
                rows_of(cache16, rows),
                TrainConfig(**{**finetune.to_dict(), "epochs": args.finetune_epochs}),
            ),
        }
    )
    if args.memory and not args.no_cv:
        cv_runs["three agree, frozen"] = (three, frozen_cache, frozen)
        cv_runs["three agree, finetune 7a bf16 cache, 1 epoch"] = (
            three,
            cache16,
            TrainConfig(**{**finetune.to_dict(), "epochs": 1}),
        )
    result["cross_validation"] = {}
    for name, (dataset, cache, config) in cv_runs.items():
        cv = cross_validate(dataset, config, 5, 0, cache=cache)
        result["cross_validation"][name] = {
            "wall_seconds": cv.seconds,
            "epochs": config.num_epochs,
            "accuracy_mean": cv.summary["accuracy"]["mean"],
            "accuracy_std": cv.summary["accuracy"]["std"],
            "peak_rss_gib_so_far": peak_rss_gib(),
        }
        print(f"{name}: {cv.seconds:.0f} s, accuracy {cv.summary['accuracy']['mean']:.3f}", flush=True)
    result["peak_rss_gib"] = peak_rss_gib()

    print(
        f"decode {result['decode_seconds_three_agree']:.0f} s, frozen blocks below 7a "
        f"{result['cache_seconds_three_agree']:.0f} s (three agree, {len(three)} images x 2 views)"
    )
    print_table(
        ["fold 1 of five agree", "s/epoch", "epochs", "accuracy"],
        [[k, v["seconds_per_epoch"], v["epochs"], v["accuracy"]] for k, v in result["fold1_five_agree"].items()],
    )
    c = result["cached_vs_recomputed"]
    print(
        f"cached vs recomputed: {c['speedup_per_epoch']:.2f}x per epoch; max |loss diff| "
        f"{c['max_loss_difference']:.2e}, max |probability diff| {c['max_probability_difference']:.2e}"
    )
    print_table(
        ["5-fold cross-validation", "wall s", "epochs", "accuracy", "peak RSS GiB"],
        [
            [
                k,
                v["wall_seconds"],
                v["epochs"],
                f"{v['accuracy_mean']:.3f} ± {v['accuracy_std']:.3f}",
                v["peak_rss_gib_so_far"],
            ]
            for k, v in result["cross_validation"].items()
        ],
    )
    print(f"peak RSS {result['peak_rss_gib']:.2f} GiB; written to {write_json(args.tag, result)}")


if __name__ == "__main__":
    main()
