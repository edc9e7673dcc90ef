"""Does int8 frozen-feature extraction change Table 3?  (issue 14, point 2)

In frozen mode, cross-validation and training read the pooled features of every block and of the
final map, computed once per image view.  This benchmark computes them twice for all 1,269 Twitter
I images (centre and mirror): with torch in float32 (the feature store, as ``cv`` does) and through
OpenVINO int8 (:class:`~sentilens.runtime.openvino_backend.OpenVinoFeatures`, calibrated on the
default calibration set, the sample-photo crops, so no Twitter image informs the quantisation);
then runs Table 3's ``frozen-aux`` recipe (5 folds, the same seeds) on both and reports the
accuracy of each subset and the difference.  The same recipe predicting from the centre crop alone
(``--views 1``) gives the accuracy cost of one view.  It also times the frozen pass of both on the first
``--timed-images`` images, in interleaved rounds.

    PYTHONPATH=src python benchmarks/int8_features.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from common import DATA, machine, print_table, write_json
from sentilens.data import TWITTER_SUBSETS, load_twitter
from sentilens.data.decoding import decode_all
from sentilens.data.images import views_of
from sentilens.evaluation import cross_validate
from sentilens.models import create_backbone
from sentilens.runtime.openvino_backend import OpenVinoFeatures
from sentilens.training import FrozenOutputs, TrainConfig
from sentilens.training.feature_store import POOLED, block_features
from sentilens.training.frozen_pass import VIEWS, run_frozen_pass


def int8_cache(features: OpenVinoFeatures, images: torch.Tensor, batch_size: int) -> FrozenOutputs:
    """Pooled features of every block and the final map, per view, through the int8 network."""
    pooled: dict[str, dict[str, list[torch.Tensor]]] = {view: {} for view in VIEWS}
    for start in range(0, len(images), batch_size):
        for view, batch in zip(VIEWS, views_of(images[start : start + batch_size], VIEWS)):
            for name, values in features(batch).items():
                pooled[view].setdefault(name, []).append(values)
    return FrozenOutputs(None, {}, {v: {k: torch.cat(parts) for k, parts in d.items()} for v, d in pooled.items()})


def subset(cache: FrozenOutputs, rows: torch.Tensor) -> FrozenOutputs:
    return FrozenOutputs(None, {}, {v: {k: t[rows] for k, t in d.items()} for v, d in cache.pooled.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--timed-images", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--tag", default="int8-features")
    args = parser.parse_args()

    everything = load_twitter(args.data, "three")
    backbone = create_backbone("inception_v3", "imagenet").eval()
    began = time.perf_counter()
    images = decode_all(everything.paths, backbone.input_size).images
    decode_seconds = time.perf_counter() - began
    stored = block_features(backbone, everything.paths, images=images)
    fp32 = FrozenOutputs(None, {}, {view: by_summary[POOLED] for view, by_summary in stored.values.items()})
    began = time.perf_counter()
    features = OpenVinoFeatures(backbone, "int8", say=print)
    build_seconds = time.perf_counter() - began
    began = time.perf_counter()
    int8 = int8_cache(features, images, 32)
    int8_seconds = time.perf_counter() - began
    drift = {
        name: float(
            (
                (int8.pooled["centre"][name] - fp32.pooled["centre"][name]).norm(dim=1)
                / fp32.pooled["centre"][name].norm(dim=1)
            ).median()
        )
        for name in fp32.pooled["centre"]
    }
    print(f"int8 features of {len(images)} images x 2 views: {int8_seconds:.0f} s; relative drift {drift}", flush=True)

    timed = images[: args.timed_images]
    rounds: dict[str, list[float]] = {"torch fp32": [], "openvino int8": []}
    for _ in range(args.repeats):
        began = time.perf_counter()
        run_frozen_pass(backbone, timed, backbone.block_names, None)
        rounds["torch fp32"].append(time.perf_counter() - began)
        began = time.perf_counter()
        int8_cache(features, timed, 32)
        rounds["openvino int8"].append(time.perf_counter() - began)

    position = {path: i for i, path in enumerate(everything.paths)}
    two_views, one_view = TrainConfig(mode="frozen"), TrainConfig(mode="frozen", predict_views=("centre",))
    variants = {"fp32": (fp32, two_views), "int8": (int8, two_views), "fp32, one view": (fp32, one_view)}
    accuracy: dict[str, Any] = {}
    rows = []
    for name in TWITTER_SUBSETS:
        dataset = load_twitter(args.data, name)
        picked = torch.tensor([position[p] for p in dataset.paths])
        accuracy[name] = {}
        for label, (cache, config) in variants.items():
            means = []
            for seed in args.seeds:
                result = cross_validate(dataset, config, 5, seed, cache=subset(cache, picked), model_name=label)
                means.append(result.summary["accuracy"]["mean"])
            accuracy[name][label] = {"per_seed": means, "mean": statistics.mean(means)}
        difference = accuracy[name]["int8"]["mean"] - accuracy[name]["fp32"]["mean"]
        accuracy[name]["int8_minus_fp32"] = difference
        rows.append([name, accuracy[name]["fp32"]["mean"], accuracy[name]["int8"]["mean"], f"{difference:+.4f}"])
        print(
            f"{name}: fp32 {accuracy[name]['fp32']['mean']:.4f}, int8 {accuracy[name]['int8']['mean']:.4f}", flush=True
        )
    print_table(["subset", "fp32 features", "int8 features", "int8 - fp32"], rows)
    frozen_pass = {k: args.timed_images * 2 / min(v) for k, v in rounds.items()}
    print(f"frozen pass, views/s: {frozen_pass}")
    write_json(
        args.tag,
        {
            "machine": machine(),
            "seeds": args.seeds,
            "recipe": "frozen-aux (Table 3): heads on 6b 6c 6e, weight 0.1, 40 epochs",
            "calibration": "default: 128 seeded crops of the six sample photos",
            "decode_seconds": decode_seconds,
            "int8_build_seconds": build_seconds,
            "int8_features_seconds_all_images": int8_seconds,
            "median_relative_feature_drift": drift,
            "frozen_pass_views_per_s_best": frozen_pass,
            "frozen_pass_seconds": rounds,
            "accuracy": accuracy,
        },
    )


if __name__ == "__main__":
    main()
