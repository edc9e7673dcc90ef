"""The output folder of a batch job: fixed shards written whole, so a rerun resumes.

Layout of ``out/``::

    manifest.json                 what the job is (inputs, shard size, model, views, precision)
    parquet/part-00000.parquet    the rows of shard 0 ...
    jsonl/part-00000.jsonl        ... and the same rows as JSON lines

Shard ``k`` holds inputs ``k * shard_size`` up to the next shard, one row per input in input
order (the columns of :func:`sentilens.app.predictions.prediction_rows`).  Each file is written
to a hidden temporary file and renamed, the Parquet file last; a shard is finished when both
files exist.  A rerun into the same folder keeps the finished shards and writes only the others,
each under its fixed name, so no shard is ever written twice and no row appears twice.  A folder
that holds another job (other inputs, model or settings) is refused rather than mixed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentilens.app.choices import OutputFormat
from sentilens.app.predictions import prediction_columns, write_rows
from sentilens.utils import SentilensError, atomic_path, write_json_atomic

MANIFEST_FORMAT = "sentilens-batch/1"


class BatchOutputError(SentilensError, ValueError):
    """An output folder that belongs to another batch job, or is damaged; the message says which."""


@dataclass(frozen=True)
class ShardLayout:
    """Where each shard of a job over ``inputs`` images goes, ``size`` images per shard."""

    out: Path
    inputs: int
    size: int

    @property
    def count(self) -> int:
        return math.ceil(self.inputs / self.size)

    def indices(self, shard: int) -> range:
        """The input indices of ``shard``."""
        return range(shard * self.size, min(self.inputs, (shard + 1) * self.size))

    def shard_of(self, index: int) -> int:
        return index // self.size

    def parquet(self, shard: int) -> Path:
        return self.out / "parquet" / f"part-{shard:05d}.parquet"

    def jsonl(self, shard: int) -> Path:
        return self.out / "jsonl" / f"part-{shard:05d}.jsonl"

    def finished(self, shard: int) -> bool:
        return self.parquet(shard).is_file() and self.jsonl(shard).is_file()

    def pending(self) -> list[int]:
        """The shards still to write."""
        return [shard for shard in range(self.count) if not self.finished(shard)]

    def remove_leftovers(self) -> None:
        """Delete temporary files a killed run left behind (hidden, so readers never saw them)."""
        for folder in (self.out / "parquet", self.out / "jsonl"):
            if folder.is_dir():
                for leftover in folder.glob(".part-*"):
                    leftover.unlink(missing_ok=True)


def open_output(out: Path, identity: dict[str, Any]) -> None:
    """Create ``out`` with a manifest of ``identity``, or check that it already holds this job."""
    manifest = out / "manifest.json"
    expected = {"format": MANIFEST_FORMAT, **identity}
    if manifest.is_file():
        try:
            found = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise BatchOutputError(f"{manifest}: unreadable ({error}); use a new output folder") from error
        if found != expected:
            differ = sorted(k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k))
            raise BatchOutputError(
                f"{out} holds another batch job (different {', '.join(differ)}); use a new output folder"
            )
        return
    if out.exists() and any(out.iterdir()):
        raise BatchOutputError(f"{out} is not empty and holds no batch job; use a new output folder")
    write_json_atomic(manifest, expected)


def parquet_schema(head_names: Sequence[str]) -> Any:
    """The Arrow schema of a shard: strings, and float64 probabilities (null when skipped)."""
    import pyarrow as pa

    floats = {"probability", "positive_probability", *(f"head_{h}" for h in head_names)}
    return pa.schema([(c, pa.float64() if c in floats else pa.string()) for c in prediction_columns(head_names)])


def write_shard(layout: ShardLayout, shard: int, rows: Sequence[dict[str, object]], head_names: Sequence[str]) -> None:
    """Write the rows of ``shard`` as JSON lines, then as Parquet (the Parquet file marks it finished)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with atomic_path(layout.jsonl(shard)) as temporary, open(temporary, "w", encoding="utf-8") as stream:
        write_rows(rows, stream, OutputFormat.jsonl)
    table = pa.Table.from_pylist(list(rows), schema=parquet_schema(head_names))
    with atomic_path(layout.parquet(shard)) as temporary:
        pq.write_table(table, temporary)
