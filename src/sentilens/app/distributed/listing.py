"""The images of a batch job, in a fixed order: image files, folders, and listings of paths.

A listing is a CSV file with a ``path`` column (a ``path,label`` dataset CSV is one; other columns
are ignored) or a Parquet file with a ``path`` column, as archives on shared storage are often
catalogued.  Relative paths are taken from the listing's folder.  Files are not opened here: on
shared storage that is the workers' job, and a missing file becomes a skipped row naming it.
The expansion is the one every command uses (:func:`sentilens.data.find_images`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sentilens.data import find_images


def list_inputs(inputs: Sequence[Path]) -> list[Path]:
    """Every image the inputs name, in order: listings expanded, folders searched recursively
    (sorted), other files as given.  Raises :class:`DataError` when nothing is found."""
    return find_images(inputs)
