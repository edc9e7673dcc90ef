"""Inference images/s against a plain loop, as a share of the machine's measured peak (issue 5).

For each backbone, on the first ``--images`` Twitter I images (centre view, batch 32):

* ``plain``: torchvision's model, fp32, default memory format, decoding in the main loop;
* ``fast fp32``: ``predict_paths`` with loader workers, channels-last, batch norm folded, fp32;
* ``fast auto``: the same with the precision ``auto`` picks (bf16 on CPUs with AVX-512 BF16);
* ``fast auto, compiled``: the same network compiled by TorchInductor with frozen weights; the
  one-off compilation (the first batch) is timed apart and not counted in the images/s.

Peak GFLOP/s comes from large fp32 and bf16 matrix products measured in the same run; the
network's GFLOP/s is its forward pass alone on pre-decoded batches, from its counted
multiply-adds.  GoogLeNet runs with random weights (its ImageNet weights are not available
offline), which does not change its speed once subnormal floats are flushed to zero.
``--agreement`` also classifies the Twitter I images (all, or the first ``--agreement-images``)
with the shipped default model on the fast paths and compares the labels with its fp32 path.

    python benchmarks/inference_speed.py --agreement
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

from common import DATA, best_time, machine, peak_rss_gib, print_table, write_json
from sentilens.app.classifier import default_model_path
from sentilens.data import load_twitter
from sentilens.data.images import load_view, to_unit_range
from sentilens.evaluation import prepare_cache
from sentilens.models import DEFAULT_TAPS, SentimentModel, create_backbone
from sentilens.runtime.predictor import Predictor, default_workers, predict_paths
from sentilens.runtime.torch_backend import autocast, compiled_copy, inference_copy, resolve_precision, to_memory_format
from sentilens.training import predict_cached
from sentilens.training.checkpoint import load_checkpoint

PLAIN_MODELS = {
    "googlenet": lambda: torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False),
    "inception_v3": lambda: torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False),
}


def peak_gflops(repeats: int, size: int = 4096) -> dict[str, float]:
    """Best fp32 and bf16 GFLOP/s of a ``size`` x ``size`` matrix product."""
    peaks = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
        a @ b
        peaks[name] = 2 * size**3 / best_time(lambda a=a, b=b: a @ b, repeats) / 1e9
    return peaks


def multiply_adds(model: torch.nn.Module, size: int) -> float:
    """Multiply-adds of one forward pass on one image (FLOP counter / 2)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.rand(1, 3, size, size))
    return counter.get_total_flops() / 2


def plain_loop(model: torch.nn.Module, paths: list, size: int, batch_size: int) -> None:
    """The reference: decode in the main loop, fp32, default memory format, no workers."""
    with torch.no_grad():
        for start in range(0, len(paths), batch_size):
            images = torch.stack([load_view(p, size) for p in paths[start : start + batch_size]])
            model(to_unit_range(images) * 2.0 - 1.0)


def speed(args: argparse.Namespace, backbone_name: str, paths: list) -> dict:
    weights = "imagenet" if backbone_name == "inception_v3" else "none"
    model = SentimentModel(create_backbone(backbone_name, weights), DEFAULT_TAPS[backbone_name]).eval()
    size = model.backbone.input_size
    plain = PLAIN_MODELS[backbone_name]().eval()
    names = ["negative", "positive"]
    precision = resolve_precision("auto")

    def fast(chosen: str) -> None:
        predict_paths(model, names, paths, views=("centre",), batch_size=args.batch_size, precision=chosen)

    compiled = f"fast auto ({precision}), compiled"
    predictor = Predictor(model, names, views=("centre",), batch_size=args.batch_size, compiled=True)
    runs = {
        "plain": lambda: plain_loop(plain, paths, size, args.batch_size),
        "fast fp32": lambda: fast("fp32"),
        f"fast auto ({precision})": lambda: fast("auto"),
        compiled: lambda: predictor(paths),
    }
    plain_loop(plain, paths[: args.batch_size], size, args.batch_size)  # warm-up: oneDNN primitives
    began = time.perf_counter()
    predictor(paths[: args.batch_size])  # compiles
    compile_seconds = time.perf_counter() - began
    seconds = {name: best_time(run, args.repeats) for name, run in runs.items()}

    batch = to_unit_range(torch.stack([load_view(p, size) for p in paths[: args.batch_size]]))
    fast_net, compiled_net = inference_copy(model), compiled_copy(model)
    fast_batch = to_memory_format(batch, True)
    with torch.inference_mode():
        fast_net(fast_batch)
        with autocast(precision, "cpu"):
            fast_net(fast_batch)
            compiled_net(fast_batch)
        plain(batch)
        network = {
            "plain": best_time(lambda: plain(batch * 2.0 - 1.0), args.repeats),
            "fast fp32": best_time(lambda: fast_net(fast_batch), args.repeats),
        }
        with autocast(precision, "cpu"):
            network[f"fast auto ({precision})"] = best_time(lambda: fast_net(fast_batch), args.repeats)
            network[compiled] = best_time(lambda: compiled_net(fast_batch), args.repeats)
    macs = multiply_adds(model, size)
    return {
        "weights": weights,
        "images": len(paths),
        "multiply_adds_per_image": macs,
        "compile_seconds_first_batch": compile_seconds,
        "end_to_end_images_per_s": {k: len(paths) / s for k, s in seconds.items()},
        "network_images_per_s": {k: args.batch_size / s for k, s in network.items()},
        "network_gflops": {k: 2 * macs * args.batch_size / s / 1e9 for k, s in network.items()},
    }


def agreement(args: argparse.Namespace) -> dict:
    """Labels of all Twitter I images under the shipped default model: the fast paths (auto
    precision, eager and compiled) against its float32 path."""
    dataset = load_twitter(args.data, "three")
    if args.agreement_images:
        dataset = dataset.subset(list(range(args.agreement_images)))
    loaded = load_checkpoint(default_model_path())
    model, config = loaded.model, loaded.config
    began = time.perf_counter()
    cache = prepare_cache(dataset, config)
    fp32 = predict_cached(model, cache, range(len(dataset)), config.predict_views)
    reference = fp32.argmax(axis=1)
    result = {
        "model": "the shipped default model (src/sentilens/assets)",
        "images": len(dataset),
        "precision": resolve_precision("auto"),
        "fp32_path": "frozen-feature cache computed in fp32 (decode, backbone per view), heads in fp32",
        "fp32_path_seconds": time.perf_counter() - began,
    }
    for variant, compiled in (("fast", False), ("fast_compiled", True)):
        began = time.perf_counter()
        predictions, skipped = predict_paths(
            model, loaded.class_names, list(dataset.paths), config.predict_views, compiled=compiled
        )
        fast = np.array([dataset.class_names.index(p.label) for p in predictions])
        positive = np.array([p.positive_probability for p in predictions])
        differ = np.flatnonzero(fast != reference)
        result[variant] = {
            "skipped": len(skipped),
            "agreement": float((fast == reference).mean()),
            "disagreements": len(differ),
            "fp32_positive_probability_of_those": fp32[differ, 1].round(4).tolist(),
            "max_abs_probability_difference": float(np.abs(positive - fp32[:, 1]).max()),
            "seconds": time.perf_counter() - began,
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--backbones", nargs="+", default=["googlenet", "inception_v3"], choices=sorted(PLAIN_MODELS))
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--agreement", action="store_true", help="also label agreement on all Twitter I images")
    parser.add_argument("--agreement-images", type=int, default=None, help="first N images only (default: all)")
    parser.add_argument("--tag", default="speed")
    args = parser.parse_args()
    # Random weights drive activations deep into subnormal floats, which x86 handles ~100x slower;
    # trained weights do not.  Flushing them to zero (for every variant alike) keeps the timing
    # representative of trained networks.
    torch.set_flush_denormal(True)

    result = {
        "machine": machine(),
        "batch_size": args.batch_size,
        "workers": default_workers(),
        "peak_gflops": peak_gflops(args.repeats + 1),
    }
    paths = list(load_twitter(args.data, "three").paths)[: args.images]
    rows = []
    for name in args.backbones:
        figures = speed(args, name, paths)
        e2e, net = figures["end_to_end_images_per_s"], figures["network_gflops"]
        figures["speedup_over_plain"] = {k: v / e2e["plain"] for k, v in e2e.items()}
        figures["share_of_peak"] = {
            k: {p: v / peak for p, peak in result["peak_gflops"].items()} for k, v in net.items()
        }
        result[name] = figures
        for variant in e2e:
            rows.append(
                [
                    name,
                    variant,
                    e2e[variant],
                    figures["speedup_over_plain"][variant],
                    figures["network_images_per_s"][variant],
                    net[variant],
                    f"{figures['share_of_peak'][variant]['bf16']:.1%}",
                ]
            )
    result["peak_rss_gib"] = peak_rss_gib()
    print(f"peak GFLOP/s: fp32 {result['peak_gflops']['fp32']:.0f}, bf16 {result['peak_gflops']['bf16']:.0f}")
    print_table(["backbone", "variant", "img/s e2e", "x plain", "img/s net", "GFLOP/s net", "of bf16 peak"], rows)
    print(f"peak RSS {result['peak_rss_gib']:.2f} GiB; written to {write_json(args.tag, result)}", flush=True)
    if args.agreement:
        result["agreement"] = agreement(args)
        result["peak_rss_gib"] = peak_rss_gib()
        a = result["agreement"]
        for variant in ("fast", "fast_compiled"):
            print(
                f"label agreement ({a['precision']} {variant} path vs fp32 path): {a[variant]['agreement']:.2%} "
                f"of {a['images']} images ({a[variant]['disagreements']} differ)"
            )
        print(f"peak RSS {result['peak_rss_gib']:.2f} GiB; written to {write_json(args.tag, result)}")


if __name__ == "__main__":
    main()
