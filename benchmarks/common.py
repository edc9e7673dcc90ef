"""Helpers shared by the benchmarks: timing, peak memory, machine facts, provenance, result files."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from sentilens.utils.hashing import file_digest

RESULTS = Path(__file__).parent / "results"
#: Load average when the benchmark's process started (this module is imported first thing); result
#: files are written at the end, when the benchmark's own work is part of the load.
LOAD_AT_START = os.getloadavg()
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "twitter1"


def best_time(run: Callable[[], object], repeats: int) -> float:
    """Fastest of ``repeats`` timed calls (the box is shared: the minimum is the least disturbed)."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return min(times)


def peak_rss_gib() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def cpu_model_and_flags() -> tuple[str, list[str]]:
    """The CPU's model name and the instruction-set flags that decide its speed (from /proc/cpuinfo)."""
    model, flags = platform.processor() or "unknown", []
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name") and model in ("unknown", "", "x86_64"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = line.split(":", 1)[1].split()
    relevant = sorted(f for f in flags if f.startswith(("avx", "amx", "fma", "f16c", "vnni")) or f == "sse4_2")
    return model, relevant


def machine() -> dict[str, Any]:
    """CPU model and speed-relevant flags, core count, load and library versions, for the record."""
    model, flags = cpu_model_and_flags()
    return {
        "cpu": model,
        "cpu_flags": flags,
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": LOAD_AT_START,
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def git_commit() -> dict[str, Any]:
    """The commit the benchmark ran from, and whether the working tree had uncommitted changes."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown", "dirty": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def data_digest(root: Path = DATA) -> str:
    """SHA-256 over the relative path and SHA-256 of every file under ``root`` (the data a run read)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(root)}:{file_digest(path)}\n".encode())
    return digest.hexdigest()


def portable(argument: str) -> str:
    """A command-line argument with no machine path in it: an absolute path inside the folder that
    holds the repository and ``shared/`` becomes relative to the working directory (the same file
    for the same command); anything else is kept as it is."""
    path = Path(argument)
    workspace = Path(__file__).resolve().parents[2]
    if path.is_absolute() and path.is_relative_to(workspace):
        return os.path.relpath(path, Path.cwd())
    return argument


def provenance(data_root: Path | None = DATA) -> dict[str, Any]:
    """Where a result came from: commit (and dirty tree), exact command line, machine, data digest."""
    return {
        **git_commit(),
        "command": " ".join(shlex.quote(portable(part)) for part in [Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "data": None if data_root is None else {"root": data_root.name, "sha256": data_digest(data_root)},
    }


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain fixed-width table on standard output."""
    cells = [[f"{c:.3g}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))


def write_json(name: str, data: dict[str, Any], data_root: Path | None = DATA) -> Path:
    """Write ``benchmarks/results/<name>.json`` with a ``provenance`` record and return its path.

    An earlier result is never overwritten: when ``<name>.json`` exists, the new one is written to
    ``<name>-<UTC date and time>.json`` beside it.
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    if path.exists():
        path = RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.json"
    record = {"provenance": provenance(data_root), **data}
    path.write_text(json.dumps(record, indent=2), encoding="utf-8")
    print(f"result written to {path}")
    return path
