"""Feed many bad inputs of each kind through the loaders and count what happened to every one.

Usage (from the repository root)::

    PYTHONPATH=src python benchmarks/reliability.py [--per-kind 20] [--mutations 2000]

For images, "nothing lost" means every input is either decoded or listed by
``decode_all(on_error="skip")`` with a reason naming it; for label files and checkpoints it means
every input loads or raises the documented error (DataError, CheckpointError) naming the file.
Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import pickle
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.bad_inputs

from tests.bad_inputs import BROKEN, DECODABLE, HUGE_LIMIT, format_samples  # noqa: E402

from common import write_json  # noqa: E402
from sentilens.data import DataError, load_csv  # noqa: E402
from sentilens.data.decoding import decode_all  # noqa: E402
from sentilens.models import CheckpointError, build_model, load_checkpoint, save_checkpoint  # noqa: E402
from sentilens.training import TrainConfig  # noqa: E402


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """Overwrite, insert or cut off bytes at 1-8 random places."""
    result = bytearray(data)
    for _ in range(rng.integers(1, 9)):
        position = int(rng.integers(0, len(result)))
        action = rng.integers(0, 3)
        if action == 0:
            result[position] = int(rng.integers(0, 256))
        elif action == 1:
            result[position:position] = rng.integers(0, 256, int(rng.integers(1, 17)), dtype=np.uint8).tobytes()
        else:
            del result[max(position, 1) :]
    return bytes(result)


def image_rows(
    folder: Path, per_kind: int, mutations: int, rng: np.random.Generator
) -> tuple[list[tuple[str, int, int, int]], Counter]:
    """(kind, inputs, decoded, listed as skipped) per kind, and the causes of the skips; raises if
    any input is unaccounted for."""
    groups: dict[str, list[Path]] = {}
    for kind, make in {**DECODABLE, **BROKEN}.items():
        groups[kind] = [make(folder / f"{kind}_{seed}.jpg", seed) for seed in range(per_kind)]
    seeds = list(format_samples().values())
    groups["mutated JPEG/PNG/GIF/WebP/BMP/TIFF"] = []
    for i in range(mutations):
        path = folder / f"mutated_{i}.jpg"
        path.write_bytes(mutate(seeds[i % len(seeds)], rng))
        groups["mutated JPEG/PNG/GIF/WebP/BMP/TIFF"].append(path)
    groups["random bytes, 0-4 KB"] = []
    for i in range(per_kind * 10):
        path = folder / f"random_{i}.jpg"
        path.write_bytes(rng.integers(0, 256, int(rng.integers(0, 4096)), dtype=np.uint8).tobytes())
        groups["random bytes, 0-4 KB"].append(path)
    rows = []
    causes: Counter = Counter()
    for kind, paths in groups.items():
        decoded = decode_all(paths, 32, on_error="skip")
        causes.update(_cause(f.reason) for f in decoded.failures)
        accounted = sorted(decoded.kept + tuple(f.index for f in decoded.failures))
        assert accounted == list(range(len(paths))), f"{kind}: inputs unaccounted for"
        assert all(str(f.path) in f.reason for f in decoded.failures), f"{kind}: a reason does not name its file"
        if kind in DECODABLE:
            assert not decoded.failures, decoded.failures[:1]
        if kind in BROKEN:
            assert not decoded.kept, f"{kind}: decoded a broken file"
        rows.append((kind, len(paths), len(decoded.kept), len(decoded.failures)))
    return rows, causes


def _cause(reason: str) -> str:
    """The kind of a skip reason: the wrapped Pillow exception, or the refusal."""
    detail = reason.split(": ", 1)[1]
    if detail.startswith("cannot decode image ("):
        return detail[len("cannot decode image (") :].split(":", 1)[0]
    return detail.split(",", 1)[0].split(" (", 1)[0]


def label_rows(folder: Path, count: int, rng: np.random.Generator) -> tuple[int, Counter]:
    """Random CSV label files: how many loaded and how many raised DataError naming the file."""
    for name in ("a.png", "b.png"):
        Image.new("RGB", (4, 4)).save(folder / name)
    words = ["a.png", "b.png", "ghost.png", "0", "1", "positive", "happy", "", '"', "\x00", "path", "label", "\xff"]
    outcomes: Counter = Counter()
    for i in range(count):
        lines = [",".join(rng.choice(words, int(rng.integers(0, 4)))) for _ in range(int(rng.integers(0, 6)))]
        text = ("path,label\n" if rng.random() < 0.8 else "") + "\n".join(lines)
        data = text.encode("utf-8") if rng.random() < 0.9 else rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
        path = folder / f"labels_{i}.csv"
        path.write_bytes(data)
        try:
            load_csv(path)
            outcomes["loaded"] += 1
        except DataError as error:
            assert str(path) in str(error), error
            outcomes["DataError naming the file"] += 1
    return count, outcomes


class RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def checkpoint_rows(folder: Path, count: int, rng: np.random.Generator) -> list[tuple[str, int, int]]:
    """(kind, tried, refused with CheckpointError) for code-running, damaged and truncated checkpoints."""
    config = TrainConfig(backbone="googlenet", weights="none", blocks=("4a",), device="cpu")
    good = save_checkpoint(build_model(config.architecture), config.to_dict(), folder / "good.pt", trained_from=None)
    payload = torch.load(good, weights_only=True)
    good_bytes = good.read_bytes()
    marker = folder / "code-ran"
    cases: dict[str, list[Path]] = {"runs code when unpickled": [], "truncated": [], "bytes overwritten": []}
    for i in range(count):
        evil = folder / f"evil_{i}.pt"
        if i % 2:
            torch.save({**payload, "extra": {"x": RunsCode(marker)}}, evil)
        else:
            evil.write_bytes(pickle.dumps({**payload, "extra": RunsCode(marker)}))
        cases["runs code when unpickled"].append(evil)
        cut = folder / f"cut_{i}.pt"
        cut.write_bytes(good_bytes[: int(rng.integers(0, len(good_bytes)))])
        cases["truncated"].append(cut)
        flipped = bytearray(good_bytes)
        for position in rng.integers(0, 4096, 8):  # the zip directory and pickle live near the start
            flipped[int(position)] ^= 0xFF
        (folder / f"flipped_{i}.pt").write_bytes(bytes(flipped))
        cases["bytes overwritten"].append(folder / f"flipped_{i}.pt")
    rows = []
    for kind, paths in cases.items():
        refused = 0
        for path in paths:
            try:
                load_checkpoint(path)
            except CheckpointError:
                refused += 1
        rows.append((kind, len(paths), refused))
    assert not marker.exists(), "a checkpoint ran code"
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=20)
    parser.add_argument("--mutations", type=int, default=2000)
    parser.add_argument("--labels", type=int, default=1000)
    parser.add_argument("--checkpoints", type=int, default=20)
    parser.add_argument(
        "--tag", default="reliability", help="result file name in benchmarks/results (never overwritten)"
    )
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    began = time.perf_counter()
    Image.MAX_IMAGE_PIXELS = HUGE_LIMIT  # so that the "huge" kind is over the limit (see tests/bad_inputs.py)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        images, causes = image_rows(folder, args.per_kind, args.mutations, rng)
        labels, outcomes = label_rows(folder, args.labels, rng)
        checkpoints = checkpoint_rows(folder, args.checkpoints, rng)
    print(
        f"{platform.node()} {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"Pillow {Image.__version__}, torch {torch.__version__}; {time.perf_counter() - began:.0f} s\n"
    )
    print("| input kind | tried | decoded | listed as skipped (file + reason) | lost |")
    print("|---|---|---|---|---|")
    for kind, tried, kept, skipped in images:
        print(f"| {kind} | {tried} | {kept} | {skipped} | {tried - kept - skipped} |")
    print("\nReasons given for skipped images: " + ", ".join(f"{what} {n}" for what, n in causes.most_common()))
    print(
        f"\n| label files | tried | outcome |\n|---|---|---|\n| random CSV label files | {labels} | "
        + ", ".join(f"{n} {what}" for what, n in sorted(outcomes.items()))
        + " |"
    )
    print("\n| checkpoint kind | tried | refused (CheckpointError) |\n|---|---|---|")
    for kind, tried, refused in checkpoints:
        print(f"| {kind} | {tried} | {refused} |")
    record = {
        "settings": vars(args),
        "seconds": round(time.perf_counter() - began, 1),
        "pillow": Image.__version__,
        "images": [
            {
                "kind": kind,
                "tried": tried,
                "decoded": kept,
                "skipped_with_reason": skipped,
                "lost": tried - kept - skipped,
            }
            for kind, tried, kept, skipped in images
        ],
        "skip_reasons": dict(causes.most_common()),
        "label_files": {"tried": labels, "outcomes": dict(outcomes)},
        "checkpoints": [{"kind": kind, "tried": tried, "refused": refused} for kind, tried, refused in checkpoints],
    }
    write_json(args.tag, record, data_root=None)


if __name__ == "__main__":
    main()
