"""Prediction speed per runtime and precision against a plain fp32 loop, on any CPU (issues 5, 14).

One process, the shipped default model, the same Twitter I images for every variant:

* ``plain``: the baseline a new user writes: the model in float32, default memory format, one
  view (the centre crop), PIL decoding in the main loop, ``torch.no_grad``, batch 32;
* ``torch fp32`` / ``torch bf16`` (bf16 only where the CPU runs it natively) / ``openvino fp32`` /
  ``openvino int8``: :class:`~sentilens.runtime.Predictor` on that runtime and precision, one view;
* ``auto, 1 view`` and ``auto, 2 views``: what ``sentilens predict --views 1`` and plain
  ``sentilens predict`` run on this machine (the runtime and precision ``auto`` picks).

End to end (``--images`` files, decoding included, and the predictor's construction from a warm
cache, as ``sentilens predict`` pays it): the baseline and the variants run in interleaved rounds
(``--repeats``), so every ratio compares runs that met the same load; the median round is
reported, and each variant's ratio is the median over rounds of plain seconds / variant seconds.
Peak memory: this process's resident memory plus that of its loader processes, sampled every
20 ms while the variant runs.  Network alone: images/s on a pre-decoded batch of 32, as a share of
the matrix-product peak measured in the same run by the same library at the same precision
(torch 4096x4096 products for fp32/bf16, an OpenVINO 4096x4096 fully connected layer in fp32 and
NNCF int8).  Label agreement: every image of Twitter I (1,269; ``--agreement-images`` for fewer)
through each variant's network against the float32 reference (the plain model), with one view and
with two.  One-off costs (conversion, quantisation) are timed when the cache lacks them.

    PYTHONPATH=src python benchmarks/inference_speed.py --tag runtimes
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import torch
from torch.utils.flop_counter import FlopCounterMode

from common import DATA, machine, print_table, write_json
from sentilens.app.classifier import load
from sentilens.data import load_twitter
from sentilens.data.images import load_view, to_unit_range, views_of
from sentilens.models import HeadLogits, SentimentModel
from sentilens.runtime import DEFAULT_VIEWS, Predictor, RunSettings, choose_runtime
from sentilens.runtime.choice import cpu_flags, cpu_supports_bf16, instruction_set
from sentilens.runtime.openvino_backend import OpenVinoNetwork
from sentilens.runtime.settings import VIEW_COUNTS
from sentilens.runtime.torch_backend import TorchNetwork


def multiply_adds(model: torch.nn.Module, size: int) -> float:
    """Multiply-adds of one forward pass on one image (FLOP counter / 2)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.rand(1, 3, size, size))
    return counter.get_total_flops() / 2


#: Square matrix sizes tried for the peak: one size alone can land on a slow blocking (on the
#: EPYC, 4096 ran at 75-97 GFLOP/s where 6144 reached 124), so the best over several is taken.
PEAK_SIZES = (1024, 2048, 4096, 6144)


def torch_peaks(sizes: tuple[int, ...] = PEAK_SIZES, repeats: int = 3) -> dict[str, float]:
    """Best GFLOP/s of square torch matrix products in fp32 (and bf16 where native) over ``sizes``."""
    peaks = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        if name == "bf16" and not cpu_supports_bf16():
            continue
        best = 0.0
        for size in sizes:
            a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
            best = max(best, 2 * size**3 / best_of(lambda a=a, b=b: a @ b, repeats) / 1e9)
        peaks[name] = best
    return peaks


def openvino_peaks(sizes: tuple[int, ...] = PEAK_SIZES, repeats: int = 3) -> dict[str, float]:
    """Best GFLOP/s (GOP/s for int8) of OpenVINO running a ``size`` x ``size`` fully connected layer
    on ``size`` rows, in fp32 and after NNCF's int8 quantisation, over ``sizes``."""
    import nncf
    import openvino

    core = openvino.Core()
    peaks = {"fp32": 0.0, "int8": 0.0}
    for size in sizes:
        layer = torch.nn.Linear(size, size, bias=False).eval()
        rows = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)
        with torch.no_grad():
            fp32 = openvino.convert_model(layer, example_input=torch.from_numpy(rows))
        int8 = nncf.quantize(fp32, nncf.Dataset([rows]), subset_size=1)
        for name, model in (("fp32", fp32), ("int8", int8)):
            config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
            compiled = core.compile_model(model, "CPU", config)
            peaks[name] = max(peaks[name], 2 * size**3 / best_of(lambda c=compiled, x=rows: c(x), repeats) / 1e9)
    return peaks


def best_of(run: Callable[[], object], repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return min(times)


class PeakMemory:
    """Peak resident memory of this process plus its children while the block runs (sampled)."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = me.memory_info().rss
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def plain_loop(model: SentimentModel, paths: list[Path], batch_size: int) -> None:
    """The baseline: decode in the main loop, the model itself in fp32, default layout, one view."""
    size = model.backbone.input_size
    with torch.no_grad():
        for start in range(0, len(paths), batch_size):
            images = torch.stack([load_view(p, size) for p in paths[start : start + batch_size]])
            model.fuse(model(to_unit_range(images)))


def variants() -> dict[str, dict[str, Any]]:
    """Each variant's Predictor settings (runtime, precision, views)."""
    found: dict[str, dict[str, Any]] = {
        "torch fp32": {"runtime": "torch", "precision": "fp32", "views": 1},
        "openvino fp32": {"runtime": "openvino", "precision": "fp32", "views": 1},
        "openvino int8": {"runtime": "openvino", "precision": "int8", "views": 1},
        "auto, 1 view": {"runtime": "auto", "precision": "auto", "views": 1},
        "auto, 2 views": {"runtime": "auto", "precision": "auto", "views": 2},
    }
    if cpu_supports_bf16():
        found["torch bf16"] = {"runtime": "torch", "precision": "bf16", "views": 1}
    return found


def predictor(model: SentimentModel, names: tuple[str, ...], settings: dict[str, Any], batch: int) -> Predictor:
    run = RunSettings(
        runtime=settings["runtime"],
        precision=settings["precision"],
        views=VIEW_COUNTS[settings["views"]],
        batch_size=batch,
    )
    return Predictor(model, names, run, say=lambda line: print(f"  {line}", flush=True))


def network_of(model: SentimentModel, runtime: str, precision: str) -> Callable[[torch.Tensor], HeadLogits]:
    """The network a variant runs: uint8 images in, logits out."""
    if runtime == "openvino":
        return OpenVinoNetwork(model, precision)
    return TorchNetwork(model, precision)


def end_to_end(args: argparse.Namespace, model: SentimentModel, names: tuple[str, ...], paths: list[Path]) -> dict:
    """Interleaved rounds of the baseline and every variant; medians, ratios and peak memory."""
    settings = variants()
    one_off = {}
    for name, chosen in settings.items():  # fill the cache and time the one-off costs, outside the rounds
        began = time.perf_counter()
        made = predictor(model, names, chosen, args.batch_size)
        one_off[name] = {"first_construction_seconds": time.perf_counter() - began, "choice": str(made.choice)}
        chosen["resolved"] = f"{made.choice.runtime} {made.choice.precision}"
    runs: dict[str, Callable[[], object]] = {"plain": lambda: plain_loop(model, paths, args.batch_size)}
    for name, chosen in settings.items():
        runs[name] = lambda chosen=chosen: predictor(model, names, chosen, args.batch_size)(paths)
    runs["plain"]()  # warm-up: oneDNN primitives, page cache of the images
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    memory: dict[str, float] = dict.fromkeys(runs, 0.0)
    for round_index in range(args.repeats):
        for name, run in runs.items():
            with PeakMemory() as peak:
                began = time.perf_counter()
                run()
                seconds[name].append(time.perf_counter() - began)
            memory[name] = max(memory[name], peak.peak / 2**30)
            print(f"round {round_index + 1} {name}: {seconds[name][-1]:.1f} s", flush=True)
    return {
        "images": len(paths),
        "seconds": seconds,
        "images_per_s": {name: len(paths) / statistics.median(s) for name, s in seconds.items()},
        "speedup_over_plain": {
            name: statistics.median(p / v for p, v in zip(seconds["plain"], s)) for name, s in seconds.items()
        },
        "peak_rss_gib_with_loaders": memory,
        "one_off": one_off,
        "settings": settings,
    }


def network_speed(args: argparse.Namespace, model: SentimentModel, batch: torch.Tensor, peaks: dict) -> dict:
    """Network alone on one pre-decoded batch: images/s, GFLOP/s and share of the matching peak."""
    macs = multiply_adds(model, model.backbone.input_size)
    networks: dict[str, tuple[Callable[[torch.Tensor], Any], float]] = {
        "plain": (lambda x: model(to_unit_range(x)), peaks["torch"]["fp32"]),
        "torch fp32": (network_of(model, "torch", "fp32"), peaks["torch"]["fp32"]),
        "openvino fp32": (network_of(model, "openvino", "fp32"), peaks["openvino"]["fp32"]),
        "openvino int8": (network_of(model, "openvino", "int8"), peaks["openvino"]["int8"]),
    }
    if "bf16" in peaks["torch"]:
        networks["torch bf16"] = (network_of(model, "torch", "bf16"), peaks["torch"]["bf16"])
    result: dict[str, Any] = {"multiply_adds_per_image": macs}
    with torch.inference_mode():
        for name, (network, peak) in networks.items():
            rate = len(batch) / best_of(lambda network=network: network(batch), args.repeats)
            gflops = 2 * macs * rate / 1e9
            result[name] = {"images_per_s": rate, "gflops": gflops, "share_of_peak": gflops / peak}
    return result


def agreement(args: argparse.Namespace, model: SentimentModel, names: tuple[str, ...]) -> dict:
    """Labels of every Twitter I image, one view and two, of each network against the fp32 reference;
    ``predict (auto)`` is what ``sentilens predict`` returns (close calls of int8 re-checked)."""
    dataset = load_twitter(args.data, "three")
    paths = list(dataset.paths)[: args.agreement_images]
    size = model.backbone.input_size
    began = time.perf_counter()
    images = torch.stack([load_view(p, size) for p in paths])
    decode_seconds = time.perf_counter() - began
    networks = {
        "fp32 reference (plain model)": lambda x: model(to_unit_range(x)),
        "openvino fp32": network_of(model, "openvino", "fp32"),
        "openvino int8": network_of(model, "openvino", "int8"),
    }
    if cpu_supports_bf16():
        networks["torch bf16"] = network_of(model, "torch", "bf16")
    fused: dict[str, dict[int, np.ndarray]] = {}
    rechecked: dict[int, int] = {}
    with torch.inference_mode():
        for name, network in networks.items():
            per_view = []
            for view in views_of(images, DEFAULT_VIEWS):
                per_view.append(torch.cat([model.fuse(network(b)) for b in view.split(args.batch_size)]).numpy())
            fused[name] = {1: per_view[0], 2: (per_view[0] + per_view[1]) / 2}
            print(f"agreement: {name} done", flush=True)
    for views in (1, 2):  # what `predict` returns: the int8 network with its close calls re-checked in fp32
        chosen = predictor(model, names, {"runtime": "auto", "precision": "auto", "views": views}, args.batch_size)
        with torch.inference_mode():
            probabilities = [
                [p.positive_probability for p in chosen.classify_decoded(paths[i : i + len(b)], b)]
                for i, b in zip(range(0, len(images), args.batch_size), images.split(args.batch_size))
            ]
        positive = np.concatenate(probabilities)
        fused.setdefault("predict (auto)", {})[views] = np.stack([1 - positive, positive], axis=1)
        rechecked[views] = chosen.rechecked
        print(f"agreement: predict (auto), {views} view(s) done ({chosen.rechecked} re-checked)", flush=True)
    reference = fused["fp32 reference (plain model)"]
    truth = np.array(dataset.labels[: len(paths)])
    result: dict[str, Any] = {"images": len(paths), "decode_seconds": decode_seconds, "rechecked_in_fp32": rechecked}
    for name, by_views in fused.items():
        result[name] = {}
        for views, probabilities in by_views.items():
            labels, expected = probabilities.argmax(1), reference[views].argmax(1)
            differ = np.flatnonzero(labels != expected)
            result[name][f"{views}_view{'s' if views > 1 else ''}"] = {
                "agreement": float((labels == expected).mean()),
                "disagreements": len(differ),
                "reference_positive_probability_of_those": reference[views][differ, 1].round(4).tolist(),
                "max_abs_probability_difference": float(np.abs(probabilities[:, 1] - reference[views][:, 1]).max()),
                "accuracy_three_agree": float((labels == truth).mean()),
            }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--images", type=int, default=256, help="images timed end to end")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--agreement-images", type=int, default=None, help="first N images only (default: all)")
    parser.add_argument("--no-agreement", action="store_true")
    parser.add_argument("--tag", default="runtimes")
    args = parser.parse_args()

    classifier = load()
    model, names = classifier.model, classifier.class_names
    flags = cpu_flags()
    result: dict[str, Any] = {
        "machine": machine(),
        "instruction_set": instruction_set(flags),
        "auto_choice": str(choose_runtime("auto", "auto")),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "batch_size": args.batch_size,
    }
    result["peaks"] = {"torch": torch_peaks(), "openvino": openvino_peaks()}
    print(f"matmul peaks (GFLOP/s, GOP/s): {result['peaks']}", flush=True)
    paths = list(load_twitter(args.data, "three").paths)[: args.images]
    result["end_to_end"] = end_to_end(args, model, names, paths)
    batch = torch.stack([load_view(p, model.backbone.input_size) for p in paths[: args.batch_size]])
    result["network"] = network_speed(args, model, batch, result["peaks"])
    if not args.no_agreement:
        result["agreement"] = agreement(args, model, names)
    result["load_average_at_end"] = os.getloadavg()

    e2e, net = result["end_to_end"], result["network"]
    rows = []
    for name in e2e["images_per_s"]:
        resolved = e2e["settings"].get(name, {}).get("resolved", name)
        share = net.get(resolved, {}).get("share_of_peak")
        rows.append(
            [
                name,
                e2e["images_per_s"][name],
                e2e["speedup_over_plain"][name],
                e2e["peak_rss_gib_with_loaders"][name],
                "" if share is None else f"{share:.1%}",
            ]
        )
    print(f"CPU: {result['machine']['cpu']} ({result['instruction_set']}); auto: {result['auto_choice']}")
    print_table(["variant", "img/s e2e", "x plain", "peak GiB", "net share of peak"], rows)
    if "agreement" in result:
        a = result["agreement"]
        for name, views in a.items():
            if isinstance(views, dict) and name != "rechecked_in_fp32":
                for count, figures in views.items():
                    print(f"agreement {name}, {count}: {figures['agreement']:.2%} ({figures['disagreements']} differ)")
    write_json(args.tag, result)


if __name__ == "__main__":
    main()
