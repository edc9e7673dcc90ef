"""The prediction table: one row per input image with stable columns, written as a table, CSV or JSON lines.

Every input gets a row, in input order: a classified image has ``status`` ``ok``; an image that
could not be decoded has ``status`` ``skipped``, empty label and probabilities, and the ``reason``,
so a pipeline reading the file sees every input it gave.  The columns depend on the model only
(``head_main`` and one ``head_<block>`` per auxiliary head), never on which inputs were classified,
and a file's format follows its extension (:func:`output_format_for`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.table import Table

from sentilens.app.choices import OutputFormat
from sentilens.runtime import Prediction, Skipped
from sentilens.utils import InvalidArgumentError

#: File extensions that name a format: ``-o guess.csv`` writes CSV, ``-o guess.jsonl`` JSON lines.
FORMAT_OF_SUFFIX = {
    ".csv": OutputFormat.csv,
    ".jsonl": OutputFormat.jsonl,
    ".json-lines": OutputFormat.jsonl,
    ".ndjson": OutputFormat.jsonl,
}


def output_format_for(output: Path | None, given: OutputFormat | str | None = None) -> OutputFormat:
    """The format to write ``output`` in: ``given`` when set, else the one its extension names
    (:data:`FORMAT_OF_SUFFIX`), else the table.

    A format that contradicts the extension (a table into ``guess.csv``, CSV into ``x.jsonl``) is
    refused with :class:`~sentilens.utils.InvalidArgumentError`, so no file ever holds another
    format than its name says.
    """
    named = FORMAT_OF_SUFFIX.get(output.suffix.lower()) if output is not None else None
    if given is None:
        return named or OutputFormat.table
    chosen = OutputFormat(given)
    if named is not None and chosen is not named:
        raise InvalidArgumentError(
            f"format {chosen.value} contradicts the output file {output} (its extension means {named.value}); "
            f"leave the format out, or give a file name that fits it"
        )
    return chosen


class RowStatus(StrEnum):
    """What happened to one input."""

    ok = "ok"  # classified
    skipped = "skipped"  # could not be decoded; ``reason`` says why


def prediction_columns(head_names: Sequence[str]) -> list[str]:
    """The columns in order: file, label, probability, positive_probability, head_*, status, reason
    (the two added for skipped inputs come last, so earlier readers of the table keep their columns)."""
    return [
        "file",
        "label",
        "probability",
        "positive_probability",
        *[f"head_{h}" for h in head_names],
        "status",
        "reason",
    ]


def prediction_row(prediction: Prediction) -> dict[str, object]:
    """The row of a classified image (probabilities rounded to 6 decimals)."""
    return {
        "file": str(prediction.path),
        "label": prediction.label,
        "probability": round(prediction.probability, 6),
        "positive_probability": round(prediction.positive_probability, 6),
        **{f"head_{name}": round(value, 6) for name, value in prediction.head_probabilities.items()},
        "status": RowStatus.ok.value,
        "reason": None,
    }


def skipped_row(path: str | Path, reason: str, head_names: Sequence[str]) -> dict[str, object]:
    """The row of an image that could not be decoded: every column present, only file, status and reason set."""
    row: dict[str, object] = dict.fromkeys(prediction_columns(head_names))
    row.update(file=str(path), status=RowStatus.skipped.value, reason=reason)
    return row


def in_input_order(
    paths: Sequence[Path], predictions: Sequence[Prediction], skipped: Sequence[Skipped]
) -> list[Prediction | Skipped]:
    """``predictions`` and ``skipped`` (each in input order) merged into the order of ``paths``."""
    merged: list[Prediction | Skipped] = []
    done, left_out = 0, 0
    for path in paths:
        if done < len(predictions) and predictions[done].path == Path(path):
            merged.append(predictions[done])
            done += 1
        elif left_out < len(skipped) and skipped[left_out].path == Path(path):
            merged.append(skipped[left_out])
            left_out += 1
    return merged + list(predictions[done:]) + list(skipped[left_out:])


def prediction_rows(
    predictions: Sequence[Prediction],
    skipped: Sequence[Skipped] = (),
    paths: Sequence[Path] | None = None,
    head_names: Sequence[str] | None = None,
) -> list[dict[str, object]]:
    """One row per input (see the module docstring): in the order of ``paths`` when given,
    else the predictions followed by the skipped inputs.  ``head_names`` (the model's heads, see
    :attr:`SentimentClassifier.head_names`) fix the ``head_*`` columns even when nothing was
    classified; without them they are read from the predictions."""
    if head_names is None:
        head_names = list(predictions[0].head_probabilities) if predictions else []
    items: list[Prediction | Skipped] = (
        in_input_order(paths, predictions, skipped) if paths is not None else [*predictions, *skipped]
    )
    return [
        prediction_row(item) if isinstance(item, Prediction) else skipped_row(item.path, item.reason, head_names)
        for item in items
    ]


def write_rows(rows: Sequence[dict[str, object]], stream: TextIO, output_format: OutputFormat) -> None:
    """Write ``rows`` to ``stream`` in ``output_format`` (the table shows file, label and probability;
    a skipped input shows ``(skipped)`` as its label).  Empty cells are empty in CSV and null in JSON."""
    if output_format is OutputFormat.jsonl:
        stream.writelines(json.dumps(row) + "\n" for row in rows)
    elif output_format is OutputFormat.csv:
        if rows:
            writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        table = Table("file", "label", "probability")
        for row in rows:
            if row.get("status") == RowStatus.skipped:
                table.add_row(str(row["file"]), "(skipped)", "")
            else:
                table.add_row(str(row["file"]), str(row["label"]), f"{float(row['probability']):.3f}")  # type: ignore[arg-type]
        Console(file=stream, width=200).print(table)


def write_predictions(
    predictions: Sequence[Prediction],
    stream: TextIO,
    output_format: OutputFormat,
    skipped: Sequence[Skipped] = (),
    paths: Sequence[Path] | None = None,
    head_names: Sequence[str] | None = None,
) -> None:
    """The rows of ``predictions`` and ``skipped`` (see :func:`prediction_rows`) written to ``stream``."""
    write_rows(prediction_rows(predictions, skipped, paths, head_names), stream, output_format)


def write_tables(
    predictions: Sequence[Prediction],
    out: Path,
    skipped: Sequence[Skipped] = (),
    paths: Sequence[Path] | None = None,
    head_names: Sequence[str] | None = None,
) -> tuple[Path, Path]:
    """``predictions.csv`` and ``predictions.jsonl`` in ``out``, with a row for every skipped input too
    (in the order of ``paths`` when given)."""
    csv_path, jsonl_path = out / "predictions.csv", out / "predictions.jsonl"
    for path, output_format in ((csv_path, OutputFormat.csv), (jsonl_path, OutputFormat.jsonl)):
        with open(path, "w", newline="", encoding="utf-8") as stream:
            write_predictions(predictions, stream, output_format, skipped, paths, head_names)
    return csv_path, jsonl_path


@dataclass
class PredictionRun:
    """What one ``predict`` run classified and skipped, for every input it was given."""

    paths: list[Path]  # every image the inputs named, in input order
    predictions: list[Prediction]
    skipped: list[Skipped]
    head_names: tuple[str, ...]

    def write(self, stream: TextIO, output_format: OutputFormat) -> None:
        """One row per input, in input order, with the model's columns (see the module docstring)."""
        write_predictions(self.predictions, stream, output_format, self.skipped, self.paths, self.head_names)
