"""Batch prediction on a local Ray against the single-process path: images/s (issue 15).

On the first ``--images`` Twitter I images, with the shipped default model, three paths each
classify every image once, end to end (model loading, decoding, both views, writing rows):

* ``single process``: ``sentilens predict`` as a library call (``load()`` then
  ``predict_with_skipped``: 2 loader processes decode ahead of the network, torch on 2 threads);
* ``ray, 1 worker``: ``run_batch`` with one classifier actor (1 CPU, 1 torch thread) beside
  decoding tasks (1 CPU), into a fresh output folder;
* ``ray, 2 workers``: two actors of half a CPU each (1 torch thread each) beside decoding tasks.

The paths are interleaved, round after round (``--repeats``), so that load from other jobs on
the shared machine falls on all of them alike; the load average is recorded around every run.
A one-image job of each path, in the same rounds, measures the fixed cost of a job (model
loading, actor start-up); Ray's own start-up is timed once, apart.

    PYTHONPATH=src python benchmarks/ray_batch.py --images 240 --repeats 2
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from common import DATA, machine, print_table, write_json
from sentilens.app.classifier import load
from sentilens.app.distributed.batch import BatchSettings, run_batch
from sentilens.app.distributed.session import start_local_ray
from sentilens.data import load_twitter

PATHS: dict[str, BatchSettings | None] = {
    "single process": None,
    "ray, 1 worker": BatchSettings(workers=1, cpus_per_worker=1.0, decode_cpus=1.0),
    "ray, 2 workers": BatchSettings(workers=2, cpus_per_worker=0.5, decode_cpus=1.0),
}


def job(settings: BatchSettings | None, paths: list[Path], scratch: Path) -> Callable[[], int]:
    """A job classifying ``paths`` on one path; returns the number of rows it produced."""

    def single_process() -> int:
        predictions, skipped = load().predict_with_skipped(paths)
        return len(predictions) + len(skipped)

    def on_ray() -> int:
        assert settings is not None
        out = Path(tempfile.mkdtemp(dir=scratch))
        run = run_batch(paths, out, replace(settings, shard_size=100))
        return run.classified + run.skipped

    return single_process if settings is None else on_ray


def timed(run: Callable[[], int], expected: int) -> dict[str, object]:
    load_before = os.getloadavg()[0]
    began = time.perf_counter()
    rows = run()
    seconds = time.perf_counter() - began
    assert rows == expected, (rows, expected)
    return {"seconds": seconds, "load_before": load_before, "load_after": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=240)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--tag", default="ray_batch")
    args = parser.parse_args()

    paths = list(load_twitter(DATA, "three").paths[: args.images])
    began = time.perf_counter()
    start_local_ray()
    ray_start = time.perf_counter() - began
    print(f"local Ray started in {ray_start:.1f} s")
    runs: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for round_number in range(args.repeats):
            for name, settings in PATHS.items():
                for count in (1, len(paths)):
                    record = timed(job(settings, paths[:count], Path(scratch)), count)
                    runs.append({"path": name, "round": round_number, "images": count, **record})
                    print(f"round {round_number}: {name}, {count} images: {record['seconds']:.1f} s")

    summary = []
    for name in PATHS:
        best = min(float(r["seconds"]) for r in runs if r["path"] == name and r["images"] == len(paths))
        fixed = min(float(r["seconds"]) for r in runs if r["path"] == name and r["images"] == 1)
        summary.append(
            {
                "path": name,
                "best_seconds": best,
                "images_per_s": len(paths) / best,
                "one_image_job_seconds": fixed,
                "images_per_s_after_fixed_cost": (len(paths) - 1) / (best - fixed),
            }
        )
    for row in summary:
        for key in ("images_per_s", "images_per_s_after_fixed_cost"):
            row[f"{key}_x_single_process"] = float(row[key]) / float(summary[0][key])
    print_table(
        ["path", "img/s", "x single", "1-image job s", "img/s after fixed", "x single after fixed"],
        [
            [
                r["path"],
                r["images_per_s"],
                r["images_per_s_x_single_process"],
                r["one_image_job_seconds"],
                r["images_per_s_after_fixed_cost"],
                r["images_per_s_after_fixed_cost_x_single_process"],
            ]
            for r in summary
        ],
    )
    write_json(
        args.tag,
        {
            "images": len(paths),
            "repeats": args.repeats,
            "ray_start_seconds": ray_start,
            "machine_at_end": machine(),
            "summary": summary,
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
