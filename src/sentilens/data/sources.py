"""Readers for the three dataset layouts: Twitter I, one folder per class, and a CSV.

Every reader checks what it reads and raises :class:`DataError` naming the file and line at
fault: a missing image, a malformed line or an unknown label stops the run rather than being
silently dropped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from sentilens.data.labelled import SENTIMENT_CLASSES, DataError, LabelledImages

TWITTER_SUBSETS = ("five", "four", "three")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
_LABEL_WORDS = {"0": 0, "1": 1, "negative": 0, "positive": 1, "neg": 0, "pos": 1}


def _require_dir(path: Path, what: str) -> None:
    if not path.exists():
        raise DataError(f"{what} not found: {path}")
    if not path.is_dir():
        raise DataError(f"{what} is not a folder: {path}")


def _parse_label(text: str, source: Path, line_number: int) -> int:
    label = _LABEL_WORDS.get(text.strip().lower())
    if label is None:
        raise DataError(f"{source}:{line_number}: unknown label {text!r} (expected 0/1 or negative/positive)")
    return label


def _read_text(path: Path) -> str:
    """A label file's text; undecodable bytes raise :class:`DataError` naming the file and line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not UTF-8 text ({error.reason} at byte {error.start})") from None


def _check_duplicates(entries: list[tuple[str, int, int]], source: Path) -> None:
    """Refuse a file listed twice; name both lines."""
    first_line: dict[str, tuple[int, int]] = {}
    for name, label, line_number in entries:
        if name in first_line:
            earlier, earlier_label = first_line[name]
            kind = "with conflicting labels" if earlier_label != label else "twice"
            raise DataError(f"{source}:{line_number}: {name!r} is listed {kind} (first on line {earlier})")
        first_line[name] = (line_number, label)


def _check_exist(paths: list[Path], lines: list[int], source: Path) -> None:
    missing = [(line, path) for path, line in zip(paths, lines) if not path.is_file()]
    if missing:
        shown = "; ".join(f"line {line}: {path}" for line, path in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise DataError(f"{source}: {len(missing)} listed image(s) do not exist: {shown}{more}")


def load_twitter(root: str | Path, subset: str = "five") -> LabelledImages:
    """Twitter I: ``root/images/`` and ``root/ground_truth/twitter_{subset}_agrees.txt``.

    Each label line is ``<file name> <label>`` with label 1 = positive, 0 = negative.
    """
    root = Path(root)
    if subset not in TWITTER_SUBSETS:
        raise DataError(f"unknown Twitter subset {subset!r}; choose one of {', '.join(TWITTER_SUBSETS)}")
    _require_dir(root, "Twitter I data folder")
    _require_dir(root / "images", "Twitter I images folder")
    label_file = root / "ground_truth" / f"twitter_{subset}_agrees.txt"
    if not label_file.is_file():
        raise DataError(f"Twitter I label file not found: {label_file}")
    entries: list[tuple[str, int, int]] = []
    for line_number, line in enumerate(_read_text(label_file).split("\n"), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2:
            raise DataError(f"{label_file}:{line_number}: expected '<file name> <label>', got {line!r}")
        entries.append((fields[0], _parse_label(fields[1], label_file, line_number), line_number))
    if not entries:
        raise DataError(f"{label_file}: lists no images")
    _check_duplicates(entries, label_file)
    paths = [root / "images" / name for name, _, _ in entries]
    _check_exist(paths, [line for _, _, line in entries], label_file)
    return LabelledImages(
        paths=tuple(paths),
        labels=tuple(label for _, label, _ in entries),
        class_names=SENTIMENT_CLASSES,
        name=f"twitter1/{subset}",
    )


def load_folder(root: str | Path) -> LabelledImages:
    """One sub-folder per class (``negative/`` and ``positive/``, or any two names).

    With exactly the sentiment names the labels follow them; otherwise classes are the
    sub-folder names in sorted order.
    """
    root = Path(root)
    _require_dir(root, "data folder")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(class_dirs) < 2:
        raise DataError(f"{root}: expected one sub-folder per class (at least two), found {len(class_dirs)}")
    names = tuple(p.name for p in class_dirs)
    class_names = SENTIMENT_CLASSES if set(names) == set(SENTIMENT_CLASSES) else names
    paths: list[Path] = []
    labels: list[int] = []
    for class_dir in class_dirs:
        files = sorted(p for p in class_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
        others = [p for p in files if p.suffix.lower() not in IMAGE_SUFFIXES]
        if others:
            raise DataError(f"{others[0]}: not an image file name (suffixes: {', '.join(IMAGE_SUFFIXES)})")
        paths.extend(files)
        labels.extend([class_names.index(class_dir.name)] * len(files))
    return LabelledImages(tuple(paths), tuple(labels), class_names, name=root.name)


def load_csv(csv_path: str | Path) -> LabelledImages:
    """A CSV with a ``path,label`` header; relative paths are taken from the CSV's folder."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DataError(f"CSV file not found: {csv_path}")
    reader = csv.reader(io.StringIO(_read_text(csv_path), newline=""))
    try:
        rows = [(reader.line_num, row) for row in reader]  # line_num: the row's (last) line
    except csv.Error as error:
        raise DataError(f"{csv_path}:{reader.line_num}: malformed CSV ({error})") from error
    if not rows or [cell.strip().lower() for cell in rows[0][1]] != ["path", "label"]:
        raise DataError(f"{csv_path}:1: expected the header 'path,label'")
    entries: list[tuple[str, int, int]] = []
    for line_number, row in rows[1:]:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 2 or not row[0].strip():
            raise DataError(f"{csv_path}:{line_number}: expected 'path,label', got {','.join(row)!r}")
        entries.append((row[0].strip(), _parse_label(row[1], csv_path, line_number), line_number))
    if not entries:
        raise DataError(f"{csv_path}: lists no images")
    _check_duplicates(entries, csv_path)
    paths = [(csv_path.parent / name) for name, _, _ in entries]
    _check_exist(paths, [line for _, _, line in entries], csv_path)
    return LabelledImages(tuple(paths), tuple(label for _, label, _ in entries), SENTIMENT_CLASSES, name=csv_path.stem)


def load_dataset(source: str | Path, subset: str = "five") -> LabelledImages:
    """Pick the reader by layout: a ``.csv`` file, a Twitter I root, or a folder per class."""
    source = Path(source)
    if source.suffix.lower() == ".csv":
        return load_csv(source)
    if (source / "ground_truth").is_dir():
        return load_twitter(source, subset)
    return load_folder(source)


#: Files whose rows name images (a ``path`` column) rather than being images themselves.
LISTING_SUFFIXES = (".csv", ".parquet")


def read_listing(listing: Path) -> list[Path]:
    """The ``path`` column of a CSV or Parquet listing, relative paths joined to its folder.

    A ``path,label`` dataset CSV is a listing (its labels are ignored here), as is any CSV or
    Parquet file with a ``path`` column.  The listed files are not opened: a missing one becomes a
    skipped input naming it, like any other file that cannot be decoded.
    """
    if listing.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        schema = pq.read_schema(listing)
        if "path" not in schema.names:
            raise DataError(f"{listing}: no 'path' column (columns: {', '.join(schema.names)})")
        names = [str(value) for value in pq.read_table(listing, columns=["path"]).column("path").to_pylist()]
    else:
        reader = csv.DictReader(io.StringIO(_read_text(listing), newline=""))
        header = [name.strip().lower() for name in reader.fieldnames or []]
        if "path" not in header:
            raise DataError(f"{listing}:1: no 'path' column in the header {','.join(header)!r}")
        column = (reader.fieldnames or [])[header.index("path")]
        names = [row[column].strip() for row in reader if (row.get(column) or "").strip()]
    if not names:
        raise DataError(f"{listing}: lists no images")
    return [listing.parent / name for name in names]


def expand_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Every image the inputs name, in input order: image files as given, folders searched
    recursively (sorted per folder), CSV/Parquet listings (:func:`read_listing`) expanded.

    The one expansion of every command that reads images (``predict``, ``demo``, ``explain``), so
    that they all accept the same inputs.
    """
    paths: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            paths.extend(sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        elif item.is_file() and item.suffix.lower() in LISTING_SUFFIXES:
            paths.extend(read_listing(item))
        else:
            paths.append(item)
    return paths


def find_images(inputs: Sequence[str | Path]) -> list[Path]:
    """:func:`expand_inputs`, refusing inputs that do not exist and inputs that hold no image,
    naming them (``no image files found in photos/``)."""
    missing = [str(p) for p in inputs if not Path(p).exists()]
    if missing:
        raise DataError(f"not found: {', '.join(missing)}")
    paths = expand_inputs(inputs)
    if not paths:
        raise DataError(f"no image files found in {', '.join(map(str, inputs))}")
    return paths
