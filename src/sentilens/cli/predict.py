"""``sentilens predict``, ``demo`` and ``backbones``: parsing and printing only."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from sentilens.app.classifier import load
from sentilens.app.demo import analyse
from sentilens.app.predictions import OutputFormat, write_predictions
from sentilens.cli.errors import console, fail
from sentilens.cli.options import CheckpointOpt, GroupRenderingOpt
from sentilens.data import expand_inputs
from sentilens.data.sample_photos import sample_images
from sentilens.data.store import OnError
from sentilens.explain import GroupRendering
from sentilens.models import DEFAULT_TAPS, available_backbones, create_backbone
from sentilens.runtime import Precision


def predict(
    inputs: Annotated[list[Path], typer.Argument(help="Image files and/or folders (searched recursively).")],
    checkpoint: CheckpointOpt = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table, jsonl or csv.")
    ] = OutputFormat.table,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Write here instead of standard output.")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Images per batch.")] = 32,
    on_error: Annotated[
        OnError, typer.Option(help="skip (classify the rest, list unreadable images) or fail.")
    ] = OnError.skip,
    precision: Annotated[
        Precision, typer.Option(help="auto (bf16 where the CPU runs it natively), fp32 or bf16.")
    ] = Precision.auto,
    workers: Annotated[Optional[int], typer.Option(help="Decoding processes ahead of the network (0: none).")] = None,
    compile_model: Annotated[
        bool,
        typer.Option(
            "--compile",
            help="Compile the network first (TorchInductor, needs a C++ compiler): a minute or two once, then "
            "about 1.5x faster; worth it from several thousand images.",
        ),
    ] = False,
) -> None:
    """Classify images: label and probability per file, as a table, JSON lines or CSV."""
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        fail(f"not found: {', '.join(missing)}")
    paths = expand_inputs(inputs)
    if not paths:
        fail("no image files found in the given inputs")
    classifier = load(checkpoint)
    predictions, skipped = classifier.predict_with_skipped(
        paths, batch_size, on_error=on_error, precision=precision, workers=workers, compiled=compile_model
    )
    if output is None:
        write_predictions(predictions, sys.stdout, output_format)
    else:
        with open(output, "w", newline="", encoding="utf-8") as stream:
            write_predictions(predictions, stream, output_format)
    for item in skipped:
        console.print(f"[yellow]skipped[/] {item.reason}")
    if skipped:
        console.print(f"{len(predictions)} classified, {len(skipped)} skipped")


def demo(
    inputs: Annotated[
        Optional[list[Path]], typer.Argument(help="Images or folders (default: scikit-image's sample images).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the summary page and tables.")] = Path(
        "sentilens-demo"
    ),
    checkpoint: CheckpointOpt = None,
    group_tap: Annotated[str, typer.Option(help="Block of the neuron-group pictures.")] = "5b",
    rendering: GroupRenderingOpt = GroupRendering.specific,
) -> None:
    """The analyst workflow: classify, explain, and write a predictions table and a one-page HTML summary."""
    images = expand_inputs(inputs) if inputs else sample_images()
    if not images:
        fail("no image files found in the given inputs")
    result = analyse(load(checkpoint), images, out, group_tap=group_tap, rendering=rendering)
    table = Table("file", "label", "probability")
    for prediction in result.predictions:
        table.add_row(prediction.path.name, prediction.label, f"{prediction.probability:.3f}")
    Console().print(table)
    for item in result.skipped:
        console.print(f"[yellow]skipped[/] {item.reason}")
    print(f"summary page: {result.page.resolve()}")
    print(f"tables: {result.table_csv.resolve()} and {result.table_jsonl.name}")


def backbones() -> None:
    """List the backbones, their taps and default auxiliary-head taps."""
    table = Table("backbone", "input", "taps", "default aux taps")
    for name in available_backbones():
        backbone = create_backbone(name, "none")
        table.add_row(name, f"{backbone.input_size}px", " ".join(backbone.tap_names), " ".join(DEFAULT_TAPS[name]))
    Console().print(table)
