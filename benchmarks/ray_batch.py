"""Batch prediction on a local Ray against the single-process path: images/s (issue 15).

With the shipped default model, three paths each classify Twitter I images end to end (model
loading, decoding, centre and mirror views, rows):

* ``single process``: what ``sentilens predict`` runs (``load()`` then ``predict_with_skipped``:
  2 decode threads decode ahead of the network, torch on 2 threads);
* ``ray, 1 worker``: ``run_batch`` with one classifier actor (1 CPU, 1 torch thread) beside
  decoding tasks (1 CPU each), into a fresh output folder;
* ``ray, 2 workers``: two actors of half a CPU each (1 torch thread each) beside decoding tasks.

Each path runs a job of ``--images`` images and a job of one batch (32 images): images/s end
to end is ``--images`` over the first job's seconds; the marginal images/s, which leaves out the
fixed cost of a job (loading the model, starting decode threads or Ray workers), is the extra images
over the extra seconds of the large job.  The paths are interleaved, round after round
(``--repeats``), so that load from other jobs on the shared machine falls on all of them alike;
the load average is recorded around every job.  The image files are read once first (page cache)
and each path runs one untimed job (worker processes started); Ray's own start-up is timed once.

``--costs`` instead measures what one image costs each stage on one thread, best of 3 passes:
decoding (``load_view``: read, decode, crop, resize) and the network (both views, through
``Predictor.classify_decoded`` as an actor runs it), and the bytes a decoded image occupies in
Ray's object store on its way from a decoding task to an actor.

    PYTHONPATH=src python benchmarks/ray_batch.py --images 128 --repeats 2
    PYTHONPATH=src python benchmarks/ray_batch.py --costs --images 64
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from common import DATA, best_time, machine, print_table, write_json
from sentilens.app.classifier import load
from sentilens.app.distributed.batch import BatchSettings, make_predictor, run_batch
from sentilens.app.distributed.session import start_local_ray
from sentilens.data import load_twitter
from sentilens.data.images import load_view
from sentilens.runtime import RunSettings

BATCH = 32
RUN = RunSettings(batch_size=BATCH)
PATHS: dict[str, BatchSettings | None] = {
    "single process": None,
    "ray, 1 worker": BatchSettings(ray_workers=1, cpus_per_worker=1.0, decode_cpus=1.0, run=RUN),
    "ray, 2 workers": BatchSettings(ray_workers=2, cpus_per_worker=0.5, decode_cpus=1.0, run=RUN),
}


def job(settings: BatchSettings | None, scratch: Path) -> Callable[[list[Path]], int]:
    """A job of one path: classify the images, return the number of rows."""

    def single_process(paths: list[Path]) -> int:
        predictions, skipped = load().predict_with_skipped(paths, RUN)
        return len(predictions) + len(skipped)

    def on_ray(paths: list[Path]) -> int:
        assert settings is not None
        run = run_batch(paths, Path(tempfile.mkdtemp(dir=scratch)), settings)
        return run.classified + run.skipped

    return single_process if settings is None else on_ray


def stage_costs(paths: list[Path]) -> dict[str, object]:
    """Milliseconds per image of decoding and of the network on one thread, best of 3 passes."""
    torch.set_num_threads(1)
    classifier = load()
    predictor = make_predictor(classifier, BatchSettings(run=RUN))
    size = classifier.model.backbone.input_size
    images = torch.stack([load_view(p, size) for p in paths])
    decode = best_time(lambda: [load_view(p, size) for p in paths], 3) / len(paths)
    network = best_time(
        lambda: [
            predictor.classify_decoded(paths[i : i + BATCH], images[i : i + BATCH]) for i in range(0, len(paths), BATCH)
        ],
        3,
    ) / len(paths)
    return {
        "images": len(paths),
        "threads": 1,
        "decode_ms_per_image": 1000 * decode,
        "network_ms_per_image_both_views": 1000 * network,
        "decoded_bytes_per_image": int(images[0].numel()),
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--costs", action="store_true", help="Measure the per-image cost of each stage instead.")
    parser.add_argument("--tag", default=None, help="Result name (default ray_batch, or ray_batch-costs).")
    args = parser.parse_args()
    if args.costs:
        costs = stage_costs(list(load_twitter(DATA, "three").paths[: args.images]))
        print(costs)
        write_json(args.tag or "ray_batch-costs", costs)
        return
    if args.images <= BATCH:
        parser.error(f"--images must be more than one batch ({BATCH})")

    paths = list(load_twitter(DATA, "three").paths[: args.images])
    for path in paths:
        path.read_bytes()
    began = time.perf_counter()
    start_local_ray()
    ray_start = time.perf_counter() - began
    print(f"local Ray started in {ray_start:.1f} s")
    runs: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as scratch:
        jobs = {name: job(settings, Path(scratch)) for name, settings in PATHS.items()}
        for run in jobs.values():
            run(paths[:BATCH])  # warm-up, not timed
        for round_number in range(args.repeats):
            for name, run in jobs.items():
                for count in (args.images, BATCH):
                    load_before = os.getloadavg()[0]
                    began = time.perf_counter()
                    assert run(paths[:count]) == count
                    seconds = time.perf_counter() - began
                    load_after = os.getloadavg()[0]
                    runs.append(
                        {
                            "path": name,
                            "round": round_number,
                            "images": count,
                            "seconds": seconds,
                            "load_before": load_before,
                            "load_after": load_after,
                        }
                    )
                    print(f"round {round_number}: {name}, {count} images: {seconds:.1f} s, load {load_before:.1f}")

    summary = []
    for name in PATHS:
        for round_number in range(args.repeats):
            large, small = (
                next(
                    float(r["seconds"])
                    for r in runs
                    if (r["path"], r["round"], r["images"]) == (name, round_number, count)
                )
                for count in (args.images, BATCH)
            )
            summary.append(
                {
                    "path": name,
                    "round": round_number,
                    "images_per_s": args.images / large,
                    "one_batch_job_seconds": small,
                    "marginal_images_per_s": (args.images - BATCH) / (large - small),
                }
            )
    for row in summary:
        baseline = next(r for r in summary if (r["path"], r["round"]) == ("single process", row["round"]))
        for key in ("images_per_s", "marginal_images_per_s"):
            row[f"{key}_x_single_process"] = float(row[key]) / float(baseline[key])
    print_table(
        ["path", "round", "img/s", "x single", "1-batch job s", "marginal img/s", "x single"],
        [
            [
                r["path"],
                r["round"],
                r["images_per_s"],
                r["images_per_s_x_single_process"],
                r["one_batch_job_seconds"],
                r["marginal_images_per_s"],
                r["marginal_images_per_s_x_single_process"],
            ]
            for r in summary
        ],
    )
    write_json(
        args.tag or "ray_batch",
        {
            "images": args.images,
            "batch": BATCH,
            "repeats": args.repeats,
            "ray_start_seconds": ray_start,
            "machine_at_end": machine(),
            "summary": summary,
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
