"""Spliced-image benchmark (paper figure 6) over held-out cross-validation folds.

For each of the 5 stratified, duplicate-aware folds of Twitter I "five agree", a frozen-mode
model (ImageNet inception_v3, heads trained on cached pooled features) is trained on the other
folds; negatives and positives of the held-out fold are paired at random, spliced
(negative | positive), and Grad-CAM at the last block (7c) for the predicted class gives the
share of the map on the half whose label equals the prediction.

    PYTHONPATH=src SENTILENS_PROGRESS=0 python benchmarks/spliced.py
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from common import DATA, write_json
from sentilens.data import load_twitter, make_folds, to_unit_range
from sentilens.data.decoding import decode_all
from sentilens.explain import spliced_test
from sentilens.models import build_model
from sentilens.training import TrainConfig, fit, predict_cached, run_frozen_pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--pairs-per-fold", type=int, default=30)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tag", default="spliced", help="result file name in benchmarks/results (never overwritten)")
    args = parser.parse_args()
    began = time.perf_counter()
    dataset = load_twitter(args.data, "five")
    config = TrainConfig(mode="frozen", seed=args.seed)
    template = build_model(config.architecture)
    size = template.backbone.input_size
    images = decode_all(dataset.paths, size).images
    cache = run_frozen_pass(template.backbone, images, template.blocks, None, batch_size=config.batch_size)
    labels = np.asarray(dataset.labels)
    rng = np.random.default_rng(args.seed)
    shares: dict[str, list[float]] = {"squash": [], "crop": []}
    per_fold, accuracies = [], []
    for fold in make_folds(dataset, args.folds, args.seed):
        model = build_model(config.architecture)
        fit(model, cache, fold.train, labels[list(fold.train)], config)
        test = np.asarray(fold.test)
        accuracies.append(float((predict_cached(model, cache, test).argmax(1) == labels[test]).mean()))
        negatives = rng.permutation(test[labels[test] == 0])
        positives = rng.permutation(test[labels[test] == 1])
        count = min(args.pairs_per_fold, len(negatives), len(positives))
        fold_shares = {}
        for layout in shares:
            results = []
            for start in range(0, count, 10):
                chunk = slice(start, min(start + 10, count))
                results += spliced_test(
                    model,
                    to_unit_range(images[negatives[chunk]]),
                    to_unit_range(images[positives[chunk]]),
                    "7c",
                    layout,
                )
            shares[layout] += [r.share for r in results]
            fold_shares[layout] = {
                "mean_share": float(np.mean([r.share for r in results])),
                "predicted_positive": int(sum(r.predicted for r in results)),
                "pairs": count,
            }
        per_fold.append({"fold": fold.number, "held_out_accuracy": accuracies[-1], **fold_shares})
        print(json.dumps(per_fold[-1]), flush=True)
    summary = {
        layout: {
            "mean_share": float(np.mean(values)),
            "std_share": float(np.std(values, ddof=1)),
            "n_pairs": len(values),
            "share_above_half": float(np.mean(np.asarray(values) > 0.5)),
        }
        for layout, values in shares.items()
    }
    result = {
        "benchmark": "spliced-image Grad-CAM test (paper figure 6)",
        "dataset": "Twitter I five agree",
        "model": "inception_v3 ImageNet, frozen mode, aux heads 6b+6c+6e (weight 0.1), one model per fold",
        "block": "7c",
        "target": "fused prediction on the spliced image",
        "layout": "squash",
        "mean_share": summary["squash"]["mean_share"],
        "std_share": summary["squash"]["std_share"],
        "n_pairs": summary["squash"]["n_pairs"],
        "layouts": summary,
        "mean_held_out_accuracy": float(np.mean(accuracies)),
        "folds": per_fold,
        "seconds": round(time.perf_counter() - began, 1),
        "machine": f"{platform.machine()} CPU, {torch.get_num_threads()} torch threads",
    }
    write_json(args.tag, result, data_root=args.data)
    print(json.dumps({k: result[k] for k in ("mean_share", "std_share", "n_pairs", "layouts", "seconds")}, indent=2))


if __name__ == "__main__":
    main()
