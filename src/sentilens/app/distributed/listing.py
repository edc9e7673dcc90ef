"""The images of a batch job, in a fixed order: image files, folders, and listings of paths.

A listing is a CSV file with a ``path`` column (a ``path,label`` dataset CSV is one; other columns
are ignored) or a Parquet file with a ``path`` column, as archives on shared storage are often
catalogued.  Relative paths are taken from the listing's folder.  Files are not opened here: on
shared storage that is the workers' job, and a missing file becomes a skipped row naming it.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from sentilens.data import DataError, expand_inputs

LISTING_SUFFIXES = (".csv", ".parquet")


def read_listing(listing: Path) -> list[Path]:
    """The ``path`` column of a CSV or Parquet listing, relative paths joined to its folder."""
    if listing.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        schema = pq.read_schema(listing)
        if "path" not in schema.names:
            raise DataError(f"{listing}: no 'path' column (columns: {', '.join(schema.names)})")
        names = [str(value) for value in pq.read_table(listing, columns=["path"]).column("path").to_pylist()]
    else:
        with open(listing, newline="", encoding="utf-8-sig") as stream:
            reader = csv.DictReader(stream)
            header = [name.strip().lower() for name in reader.fieldnames or []]
            if "path" not in header:
                raise DataError(f"{listing}:1: no 'path' column in the header {','.join(header)!r}")
            column = (reader.fieldnames or [])[header.index("path")]
            names = [row[column].strip() for row in reader if (row.get(column) or "").strip()]
    if not names:
        raise DataError(f"{listing}: lists no images")
    return [listing.parent / name for name in names]


def list_inputs(inputs: Sequence[Path]) -> list[Path]:
    """Every image the inputs name, in order: listings expanded, folders searched recursively
    (sorted), other files as given.  Raises :class:`DataError` when nothing is found."""
    paths: list[Path] = []
    for item in inputs:
        if item.is_file() and item.suffix.lower() in LISTING_SUFFIXES:
            paths.extend(read_listing(item))
        else:
            paths.extend(expand_inputs([item]))
    if not paths:
        raise DataError(f"no image files found in {', '.join(map(str, inputs))}")
    return paths
