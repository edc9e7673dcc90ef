"""Whole-process wall time of what a user types (issue 21): ``sentilens --help``, ``import sentilens``
and ``sentilens predict`` on 1, 8, 128 and 512 Twitter I images (one view and two), against a
plain fp32 loop run as its own process on the same images in the same rounds.

Every measurement is a fresh process started and waited for (``subprocess``), so it includes the
interpreter, the imports, loading the model and its cached network, decoding and the network, as a
script calling ``sentilens predict`` pays them.  The runtime cache is warmed by one untimed
``predict`` first (conversion and quantisation are one-off costs, measured in BENCHMARKS.md
"Runtimes"), so ``predict`` is timed with a warm cache.  The steps run in interleaved rounds
(``--repeats``, default 5) and each step's median is reported; each predict's speed-up is the median
over rounds of plain seconds / predict seconds for the same images, so both met the same load.

The plain loop (``--plain-child``, run by this script as a process of its own) is what a new user
writes with torch and torchvision-style code: import torch, load the shipped model, decode each
image with PIL in the loop (the same centre crop), float32, default memory format, one view,
``torch.no_grad``, batches of 32.

    PYTHONPATH=src python benchmarks/startup.py            # full: about 15 minutes on two idle cores
    PYTHONPATH=src python benchmarks/startup.py --quick    # 1, 8 and 128 images: about 5 minutes

Writes ``benchmarks/results/startup.json`` (never overwriting an earlier result: see
``common.write_json``) and prints a Markdown table for BENCHMARKS.md.  ``--fresh-clone`` also times
``bash scripts/main.sh`` in a fresh clone of this commit (needs the package index).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def plain_child(folder: Path, batch_size: int = 32) -> None:
    """The plain loop as a whole process (see the module docstring)."""
    import torch

    from sentilens import load
    from sentilens.data import load_view, to_unit_range

    model = load().model
    size = model.backbone.input_size
    paths = sorted(folder.iterdir())
    with torch.no_grad():
        for start in range(0, len(paths), batch_size):
            images = torch.stack([load_view(p, size) for p in paths[start : start + batch_size]])
            probabilities = model.fuse(model(to_unit_range(images)))
            for path, row in zip(paths[start : start + batch_size], probabilities):
                print(path.name, int(row.argmax()), f"{float(row.max()):.3f}")


def image_folders(count_list: list[int], work: Path, data: Path) -> dict[int, Path]:
    """A folder of links to the first ``n`` Twitter I images (sorted by name) for each ``n``."""
    images = sorted((data / "images").iterdir())
    folders = {}
    for count in count_list:
        folder = work / f"images-{count}"
        folder.mkdir()
        for image in images[:count]:
            (folder / image.name).symlink_to(image)
        folders[count] = folder
    return folders


def timed(command: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one process running ``command`` (its output discarded; a failure stops the run)."""
    began = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr.decode(errors='replace')}")
    return seconds


def steps(folders: dict[int, Path]) -> dict[str, list[str]]:
    """Each measured step's command line."""
    python = sys.executable
    cli = [python, "-m", "sentilens.cli"]
    found = {"sentilens --help": [*cli, "--help"], "import sentilens": [python, "-c", "import sentilens"]}
    for count, folder in folders.items():
        found[f"plain loop, {count} images"] = [python, str(Path(__file__).resolve()), "--plain-child", str(folder)]
        for views in (1, 2):
            found[f"predict --views {views}, {count} images"] = [*cli, "predict", str(folder), "--views", str(views)]
    return found


def fresh_clone_seconds(env: dict[str, str]) -> float:
    """Wall seconds of ``bash scripts/main.sh`` in a fresh clone of HEAD (install and the demo)."""
    with tempfile.TemporaryDirectory(prefix="sentilens-clone-") as work:
        clone = Path(work) / "sentilens"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        began = time.perf_counter()
        subprocess.run(["bash", "scripts/main.sh"], cwd=clone, env=env, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - began


def markdown(results: dict[str, Any]) -> str:
    """The table for BENCHMARKS.md: median seconds per step, and each predict's speed-up over the plain loop."""
    lines = [f"| what | median s (of {results['repeats']}) | x plain loop |", "|---|---:|---:|"]
    for name, seconds in results["median_seconds"].items():
        ratio = results["speedup_over_plain"].get(name)
        lines.append(f"| `{name}` | {seconds:.2f} | {'' if ratio is None else f'{ratio:.2f}x'} |")
    if results.get("fresh_clone_main_sh_seconds") is not None:
        lines.append(f"| `bash scripts/main.sh` on a fresh clone | {results['fresh_clone_main_sh_seconds']:.0f} | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1, 8 and 128 images only (about 5 minutes)")
    parser.add_argument("--images", help="comma-separated image counts instead (e.g. 1,8 for a smoke test)")
    parser.add_argument("--repeats", type=int, default=5, help="rounds; each step's median is reported")
    parser.add_argument("--data", type=Path, default=None, help="Twitter I root (default $SENTILENS_DATA)")
    parser.add_argument("--fresh-clone", action="store_true", help="also time bash scripts/main.sh on a fresh clone")
    parser.add_argument("--plain-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_child is not None:
        plain_child(args.plain_child)
        return

    from common import DATA, write_json

    data = args.data or Path(os.environ.get("SENTILENS_DATA", DATA))
    counts = [1, 8, 128] if args.quick else [1, 8, 128, 512]
    if args.images:
        counts = [int(part) for part in args.images.split(",")]
    clean_env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env = {**clean_env, "PYTHONPATH": str(ROOT / "src")}
    with tempfile.TemporaryDirectory(prefix="sentilens-startup-") as work:
        folders = image_folders(counts, Path(work), data)
        commands = steps(folders)
        print("warming the runtime cache (one untimed predict) ...", flush=True)
        warm_up = timed(commands["predict --views 1, 1 images"], env)
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        loads = []
        for round_number in range(args.repeats):
            loads.append(os.getloadavg()[0])
            for name, command in commands.items():
                seconds[name].append(timed(command, env))
            print(f"round {round_number + 1}/{args.repeats} done (load {loads[-1]:.1f})", flush=True)
    results: dict[str, Any] = {
        "repeats": args.repeats,
        "images": counts,
        "warm_up_seconds": warm_up,
        "load_average_per_round": loads,
        "seconds": seconds,
        "median_seconds": {name: statistics.median(s) for name, s in seconds.items()},
        "speedup_over_plain": {
            name: statistics.median(p / v for p, v in zip(seconds[f"plain loop, {count} images"], s))
            for count in counts
            for name, s in seconds.items()
            if name.startswith("predict") and name.endswith(f", {count} images")
        },
        "fresh_clone_main_sh_seconds": fresh_clone_seconds(clean_env) if args.fresh_clone else None,
    }
    write_json("startup", results)
    print(markdown(results))


if __name__ == "__main__":
    main()
