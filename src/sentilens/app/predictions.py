"""The prediction table: one row per input image with stable columns, written as a table, CSV or JSON lines.

Every input gets a row, in input order: a classified image has ``status`` ``ok``; an image that
could not be decoded has ``status`` ``skipped``, empty label and probabilities, and the ``reason``,
so a pipeline reading the file sees every input it gave.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.table import Table

from sentilens.app.choices import OutputFormat
from sentilens.runtime import Prediction, Skipped


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
    predictions: Sequence[Prediction], skipped: Sequence[Skipped] = (), paths: Sequence[Path] | None = None
) -> list[dict[str, object]]:
    """One row per input (see the module docstring): in the order of ``paths`` when given,
    else the predictions followed by the skipped inputs."""
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
) -> None:
    """The rows of ``predictions`` and ``skipped`` (see :func:`prediction_rows`) written to ``stream``."""
    write_rows(prediction_rows(predictions, skipped, paths), stream, output_format)


def write_tables(
    predictions: Sequence[Prediction], out: Path, skipped: Sequence[Skipped] = (), paths: Sequence[Path] | None = None
) -> tuple[Path, Path]:
    """``predictions.csv`` and ``predictions.jsonl`` in ``out``, with a row for every skipped input too."""
    csv_path, jsonl_path = out / "predictions.csv", out / "predictions.jsonl"
    for path, output_format in ((csv_path, OutputFormat.csv), (jsonl_path, OutputFormat.jsonl)):
        with open(path, "w", newline="", encoding="utf-8") as stream:
            write_predictions(predictions, stream, output_format, skipped, paths)
    return csv_path, jsonl_path
