"""The prediction table: one row per image with stable columns, written as a table, CSV or JSON lines."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.table import Table

from sentilens.runtime.predictor import Prediction


class OutputFormat(StrEnum):
    """How a prediction table is written."""

    table = "table"  # aligned columns for a person
    jsonl = "jsonl"  # one JSON object per line
    csv = "csv"  # comma-separated, with a header


def prediction_rows(predictions: Sequence[Prediction]) -> list[dict[str, object]]:
    """The stable output columns: file, label, probability, positive_probability, head_*."""
    return [
        {
            "file": str(p.path),
            "label": p.label,
            "probability": round(p.probability, 6),
            "positive_probability": round(p.positive_probability, 6),
            **{f"head_{name}": round(value, 6) for name, value in p.head_probabilities.items()},
        }
        for p in predictions
    ]


def write_rows(rows: Sequence[dict[str, object]], stream: TextIO, output_format: OutputFormat) -> None:
    """Write ``rows`` to ``stream`` in ``output_format`` (the table shows file, label and probability)."""
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
            table.add_row(str(row["file"]), str(row["label"]), f"{float(row['probability']):.3f}")  # type: ignore[arg-type]
        Console(file=stream, width=200).print(table)


def write_predictions(predictions: Sequence[Prediction], stream: TextIO, output_format: OutputFormat) -> None:
    """The rows of ``predictions`` written to ``stream`` in ``output_format``."""
    write_rows(prediction_rows(predictions), stream, output_format)


def write_tables(predictions: Sequence[Prediction], out: Path) -> tuple[Path, Path]:
    """``predictions.csv`` and ``predictions.jsonl`` in ``out``."""
    csv_path, jsonl_path = out / "predictions.csv", out / "predictions.jsonl"
    for path, output_format in ((csv_path, OutputFormat.csv), (jsonl_path, OutputFormat.jsonl)):
        with open(path, "w", newline="", encoding="utf-8") as stream:
            write_predictions(predictions, stream, output_format)
    return csv_path, jsonl_path
