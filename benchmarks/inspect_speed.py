"""Time ``sentilens inspect`` with its defaults on Twitter I five agree: once with empty caches
(block features, group pictures) and once warm, with per-block times, CPU time and load.

The CPU time of the process (user + system, all threads) is reported beside the wall time:
on a shared machine the wall time depends on what else runs, the CPU time much less.

    PYTHONPATH=src SENTILENS_PROGRESS=0 python benchmarks/inspect_speed.py
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from common import DATA, write_json
from sentilens.app.inspect import build_inspection, model_and_weights, model_source
from sentilens.data import load_dataset


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(data: Path, out: Path) -> dict[str, Any]:
    """One report with the defaults; wall and CPU time overall and per reported step."""
    lines: list[dict[str, Any]] = []
    began, cpu = time.perf_counter(), cpu_seconds()
    load_before = os.getloadavg()

    def say(message: str) -> None:
        lines.append(
            {"at_s": round(time.perf_counter() - began, 1), "cpu_s": round(cpu_seconds() - cpu, 1), "message": message}
        )
        print(f"{lines[-1]['at_s']:7.1f} s  {message}", flush=True)

    model, weights = model_and_weights(None, "inception_v3", "imagenet", out)
    dataset = load_dataset(data, "five")
    build_inspection(model, weights, dataset, out, source=model_source(None, model, weights), say=say)
    return {
        "wall_s": time.perf_counter() - began,
        "cpu_s": cpu_seconds() - cpu,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "steps": lines,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--reports", type=Path, help="keep the two reports here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sentilens-inspect-") as scratch:
        os.environ["SENTILENS_CACHE"] = str(Path(scratch) / "cache")
        reports = args.reports or Path(scratch)
        empty = run(args.data, reports / "report-empty")
        warm = run(args.data, reports / "report-warm")
    for name, result in (("empty caches", empty), ("warm caches", warm)):
        print(
            f"{name}: {result['wall_s']:.0f} s wall, {result['cpu_s']:.0f} s CPU, load {result['load_average_before']}"
        )
    write_json("inspect_speed", {"defaults": "inspect DATA --subset five", "empty": empty, "warm": warm})


if __name__ == "__main__":
    main()
