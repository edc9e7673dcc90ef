"""Run a command and report its wall time and peak resident memory (of its largest process).

    python benchmarks/peak_memory.py frozen -- sentilens cv ../shared/data/twitter1 --subset three
    python benchmarks/peak_memory.py full --limit 600 -- \
        sentilens cv ../shared/data/twitter1 --subset three --mode finetune

``--limit`` stops the command after that many seconds and reports the peak so far, for runs
too long to finish (the peak of a training run is set by its first steps).  Prints one JSON line
and writes it, with provenance, to ``benchmarks/results/peak_memory-NAME.json`` (never overwritten).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from common import write_json


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], usage="%(prog)s NAME [--limit S] -- COMMAND ..."
    )
    parser.add_argument("name", help="a label for the run")
    parser.add_argument("--limit", type=float, default=None, help="stop the command after this many seconds")
    argv = sys.argv[1:]
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        parser.parse_args([a for a in argv if a != "--"])  # answers --help
        parser.error("give the command to measure after --")
    split = argv.index("--")
    args, command = parser.parse_args(argv[:split]), argv[split + 1 :]
    began = time.perf_counter()
    child = subprocess.Popen(command)
    try:
        status: int | str = child.wait(timeout=args.limit)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        status = f"stopped after {args.limit:g} s"
    peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # KiB on Linux
    record = {
        "run": args.name,
        "measured_command": " ".join(command),
        "status": status,
        "wall_seconds": round(time.perf_counter() - began, 1),
        "peak_rss_gib": round(peak_gib, 2),
    }
    print(json.dumps(record))
    write_json(f"peak_memory-{args.name}", record)


if __name__ == "__main__":
    main()
