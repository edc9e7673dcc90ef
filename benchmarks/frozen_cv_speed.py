"""A frozen-mode k-fold cross-validation on warm features: this tree against another, same run.

What the studio's "Evaluate" and ``sentilens cv`` spend after the feature store answers: the
folds, and training and scoring fresh heads on each.  Each tree runs in its own child process
(``--baseline-src`` points at the ``src`` folder of another checkout, e.g. a ``git worktree`` of
an older commit), alternating, so both see the same machine; the child reads the features from
the feature store, then times ``cross_validate`` ``--repeats`` times.  The whole child process
(start-up, feature read, all repeats) is timed too.

    cd benchmarks && PYTHONPATH=../src python frozen_cv_speed.py --data ../../shared/data/twitter1 \\
        --baseline-src /tmp/old-checkout/src
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import DATA, machine, print_table, write_json

CHILD = """
import json, sys, time
from pathlib import Path
import numpy as np
from sentilens.data import load_dataset
from sentilens.data.choices import OnError
from sentilens.app.train import decode_for
from sentilens.evaluation import cross_validate
from sentilens.training import TrainConfig, prepare_cache
data, subset, blocks = sys.argv[1], sys.argv[2], tuple(sys.argv[3].split(","))
repeats, folds = int(sys.argv[4]), int(sys.argv[5])
config = TrainConfig(blocks=blocks, aux_weights=(0.1,) * len(blocks))
decoded = decode_for(load_dataset(Path(data), subset), config, OnError.skip, lambda message: None)
cache = prepare_cache(decoded.dataset, config, decoded.images)
times, accuracy = [], []
for _ in range(repeats):
    started = time.perf_counter()
    result = cross_validate(decoded.dataset, config, folds, 0, cache=cache)
    times.append(time.perf_counter() - started)
    accuracy.append(result.summary["accuracy"]["mean"])
print(json.dumps({"seconds": times, "accuracy": accuracy, "images": len(decoded.dataset)}))
"""


def run_child(src: Path, args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    command = [
        sys.executable,
        "-c",
        CHILD,
        str(args.data),
        args.subset,
        args.blocks,
        str(args.repeats),
        str(args.folds),
    ]
    env = dict(os.environ, PYTHONPATH=str(src))
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    record: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    record["process_seconds"] = time.perf_counter() - started
    return record


def commit_of(src: Path) -> str:
    """The commit checked out in the tree that holds ``src``."""
    return subprocess.run(
        ["git", "-C", str(src), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--subset", default="five")
    parser.add_argument("--blocks", default="6a,6d")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="alternating child runs per tree")
    parser.add_argument("--baseline-src", type=Path, help="the src folder of the tree to compare with")
    parser.add_argument("--tag", default="frozen-cv-speed")
    args = parser.parse_args()
    trees = {"this tree": Path(__file__).resolve().parents[1] / "src"}
    if args.baseline_src:
        trees["baseline"] = args.baseline_src.resolve()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    load = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for name, src in trees.items():
            runs[name].append(run_child(src, args))
            load.append(os.getloadavg()[0])
    rows, summary = [], {}
    for name, records in runs.items():
        best = min(s for r in records for s in r["seconds"])
        process = min(r["process_seconds"] for r in records)
        accuracy = records[0]["accuracy"][0]
        summary[name] = {"best_cv_seconds": best, "best_process_seconds": process, "accuracy": accuracy}
        rows.append([name, f"{best:.2f}", f"{process:.1f}", f"{accuracy:.4f}"])
    if "baseline" in summary:
        ratio = summary["baseline"]["best_cv_seconds"] / summary["this tree"]["best_cv_seconds"]
        summary["speed-up"] = ratio
        rows.append(["baseline / this tree", f"{ratio:.2f}x", "", ""])
    print_table(["tree", f"{args.folds}-fold cv, best (s)", "whole process, best (s)", "accuracy"], rows)
    write_json(
        args.tag,
        {
            "machine": machine(),
            "settings": vars(args) | {"data": str(args.data), "baseline_src": None},
            "baseline_commit": commit_of(args.baseline_src) if args.baseline_src else None,
            "load_average_1min": load,
            "runs": runs,
            "summary": summary,
        },
        args.data,
    )


if __name__ == "__main__":
    main()
