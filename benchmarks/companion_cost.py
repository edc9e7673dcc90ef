"""What the companion network costs and how int8 treats it (issue 20): the shipped model before
and after the EfficientNet-Lite0 companion, as a user runs it.

1. Whole processes: ``sentilens predict`` of the same Twitter I images with the heads-only
   checkpoint of an earlier commit (``--before``, read from git) and with today's shipped model,
   alternating, on the auto runtime (OpenVINO int8 here) and on torch float32; every network is
   built once first, so the timed runs read their caches as a user's second run does.
2. Agreement: the shipped model's labels on every image of the set through int8 (with its float32
   re-check of close calls) against OpenVINO float32, and the largest difference of the
   companion's vote (it stays float32 inside the int8 network).

    PYTHONPATH=../src python companion_cost.py --images 128 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import DATA, write_json
from sentilens.app.shipped import default_model_path
from sentilens.data import load_twitter

ROOT = Path(__file__).resolve().parents[1]


def checkpoint_at(commit: str, folder: Path) -> Path:
    """The shipped checkpoint as it was at ``commit``."""
    path = folder / f"shipped-{commit}.pt"
    blob = subprocess.run(
        ["git", "show", f"{commit}:src/sentilens/assets/twitter1-inception_v3-frozen.pt"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    path.write_bytes(blob)
    return path


def predict_seconds(checkpoint: Path, listing: Path, runtime: str) -> float:
    """Wall time of one whole ``sentilens predict`` process."""
    command = [sys.executable, "-m", "sentilens.cli", "predict", str(listing), "-c", str(checkpoint)]
    command += ["--runtime", runtime, "-f", "csv", "-o", str(listing.with_suffix(f".{runtime}.out.csv"))]
    began = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env={"SENTILENS_PROGRESS": "0", **_env()})
    return time.perf_counter() - began


def _env() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if key != "SENTILENS_PROGRESS"}


def agreement(paths: list[Path]) -> dict[str, float]:
    """int8 (re-checked) against OpenVINO float32 labels of the shipped model, and the companion's vote."""
    import sentilens
    from sentilens.runtime import RunSettings

    classifier = sentilens.load()
    exact, _ = classifier.predict_with_skipped(paths, RunSettings(runtime="openvino", precision="fp32"))
    int8, _ = classifier.predict_with_skipped(paths, RunSettings(runtime="openvino", precision="int8"))
    companion = [
        abs(a.head_probabilities["companion"] - b.head_probabilities["companion"]) for a, b in zip(int8, exact)
    ]
    fused = [abs(a.positive_probability - b.positive_probability) for a, b in zip(int8, exact)]
    return {
        "images": len(paths),
        "labels_equal": sum(a.label == b.label for a, b in zip(int8, exact, strict=True)),
        "companion_vote_max_difference": float(max(companion)),
        "fused_mean_difference": float(np.mean(fused)),
        "fused_max_difference": float(max(fused)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--before", default="aabeba7", help="commit of the heads-only shipped model")
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--runtimes", nargs="+", default=["auto", "torch"])
    parser.add_argument("--tag", default="companion-cost")
    args = parser.parse_args()

    everything = load_twitter(args.data, "three")
    agreed = agreement([Path(p) for p in everything.paths])
    print(agreed, flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        listing = folder / "images.csv"
        paths = [Path(p) for p in everything.paths[: args.images]]
        listing.write_text("path\n" + "\n".join(str(p) for p in paths) + "\n", encoding="utf-8")
        models = {"before": checkpoint_at(args.before, folder), "after": default_model_path()}
        timings: dict[str, dict[str, list[float]]] = {r: {m: [] for m in models} for r in args.runtimes}
        for runtime in args.runtimes:
            for checkpoint in models.values():  # build and cache every network once, untimed
                predict_seconds(checkpoint, listing, runtime)
            for _ in range(args.repeats):
                for name, checkpoint in models.items():
                    timings[runtime][name].append(predict_seconds(checkpoint, listing, runtime))
            medians = {name: statistics.median(values) for name, values in timings[runtime].items()}
            print(
                f"{runtime}: before {medians['before']:.2f} s, after {medians['after']:.2f} s, "
                f"ratio {medians['after'] / medians['before']:.2f}",
                flush=True,
            )
    record = {
        "images": args.images,
        "before": args.before,
        "timings_seconds": timings,
        "median_ratio_after_over_before": {
            r: statistics.median(t["after"]) / statistics.median(t["before"]) for r, t in timings.items()
        },
        "int8_agreement": agreed,
    }
    write_json(args.tag, record, data_root=args.data)


if __name__ == "__main__":
    main()
