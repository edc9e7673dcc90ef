"""``sentilens predict``, ``demo`` and ``backbones``: parsing and printing only."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from sentilens.app import BatchSettings, OutputFormat, analyse, load, run_batch, write_predictions
from sentilens.cli.errors import console, fail
from sentilens.cli.options import (
    CalibrationOpt,
    CheckpointOpt,
    CompileOpt,
    DecodeThreadsOpt,
    GroupRenderingOpt,
    PrecisionOpt,
    PredictBatchOpt,
    RayAddressOpt,
    RayOpt,
    RuntimeOpt,
    ViewsOpt,
    run_settings,
)
from sentilens.data import OnError, expand_inputs, sample_images
from sentilens.explain import DEFAULT_CAM_METHOD, DEFAULT_STEPS, CamMethod, GroupRendering
from sentilens.models import available_backbones, backbone_spec
from sentilens.runtime import Precision, RunSettings, Runtime


def predict(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Image files and/or folders (searched recursively); with --ray also CSV/Parquet listings."),
    ],
    checkpoint: CheckpointOpt = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", help="table, jsonl or csv (--ray writes Parquet and JSON-lines shards)."),
    ] = OutputFormat.table,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Write here instead of standard output.")
    ] = None,
    batch_size: PredictBatchOpt = RunSettings.batch_size,
    on_error: Annotated[
        OnError, typer.Option(help="skip (classify the rest, list unreadable images) or fail.")
    ] = OnError.skip,
    runtime: RuntimeOpt = Runtime.auto,
    precision: PrecisionOpt = Precision.auto,
    views: ViewsOpt = None,
    calibration: CalibrationOpt = None,
    decode_threads: DecodeThreadsOpt = None,
    compile_model: CompileOpt = False,
    ray: RayOpt = False,
    ray_address: RayAddressOpt = None,
    ray_workers: Annotated[
        Optional[int],
        typer.Option(help="Classifier actors, each loading the model once (default 1).", rich_help_panel="Ray"),
    ] = None,
    cpus_per_worker: Annotated[
        Optional[float],
        typer.Option(
            help="CPUs reserved per actor, its torch threads (default 1; 0.5 lets two share one).",
            rich_help_panel="Ray",
        ),
    ] = None,
    shard_size: Annotated[
        Optional[int],
        typer.Option(help="Images per output shard, the unit of resuming (default 1000).", rich_help_panel="Ray"),
    ] = None,
) -> None:
    """Classify images: label and probability per file, as a table, JSON lines or CSV.

    With --ray: images, folders and CSV/Parquet listings (a 'path' column) are classified on Ray
    into --output/-o, a folder of Parquet and JSON-lines shards; rerun the same command to resume.
    """
    missing = [str(p) for p in [*inputs, *(calibration or [])] if not p.exists()]
    if missing:
        fail(f"not found: {', '.join(missing)}")
    run = run_settings(runtime, precision, views, calibration, compile_model, batch_size, decode_threads)
    ray_settings = {"ray_workers": ray_workers, "cpus_per_worker": cpus_per_worker, "shard_size": shard_size}
    if ray or ray_address is not None:
        if output is None:
            fail("--ray writes a folder of shards: name it with --output/-o")
        if decode_threads is not None:
            fail(
                "--decode-threads (--workers) sets the decode threads of a run without Ray; with --ray, Ray tasks "
                "decode and --ray-workers sets the classifier actors"
            )
        if output_format is not OutputFormat.table:
            fail("--ray writes Parquet and JSON-lines shards into --output; --format is for a run without --ray")
        if on_error is OnError.fail:
            fail(
                "--ray writes an undecodable image as a row with status 'skipped'; --on-error fail needs a run "
                "without --ray"
            )
        settings = BatchSettings(
            checkpoint,
            shard_size=BatchSettings.shard_size if shard_size is None else shard_size,
            ray_workers=BatchSettings.ray_workers if ray_workers is None else ray_workers,
            cpus_per_worker=BatchSettings.cpus_per_worker if cpus_per_worker is None else cpus_per_worker,
            run=run,
        )
        batch = run_batch(inputs, output, settings, ray_address, say=console.print)
        console.print(
            f"{batch.images} images in {batch.shards} shards: {len(batch.kept)} kept, {len(batch.written)} written "
            f"({batch.classified} classified, {batch.skipped} skipped) in [bold]{output}/[/] (parquet/, jsonl/)"
        )
        return
    unused = [name for name, value in ray_settings.items() if value is not None]
    if unused:
        fail(f"{', '.join('--' + n.replace('_', '-') for n in unused)} need --ray")
    paths = expand_inputs(inputs)
    if not paths:
        fail("no image files found in the given inputs")
    classifier = load(checkpoint)
    predictions, skipped = classifier.predict_with_skipped(paths, run, on_error=on_error, say=console.print)
    if output is None:
        write_predictions(predictions, sys.stdout, output_format, skipped, paths)
    else:
        with open(output, "w", newline="", encoding="utf-8") as stream:
            write_predictions(predictions, stream, output_format, skipped, paths)
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
    group_block: Annotated[
        str, typer.Option("--group-block", "--group-tap", help="Block of the neuron-group pictures.")
    ] = "5b",
    runtime: RuntimeOpt = Runtime.auto,
    precision: PrecisionOpt = Precision.auto,
    views: ViewsOpt = None,
    rendering: GroupRenderingOpt = GroupRendering.specific,
    method: Annotated[
        CamMethod,
        typer.Option("--method", help="CAM method of the map (default: the most faithful, see BENCHMARKS.md)."),
    ] = DEFAULT_CAM_METHOD,
    faithfulness_steps: Annotated[
        int,
        typer.Option(help="Deletion/insertion steps of the score under each map (0: no scores; faster)."),
    ] = DEFAULT_STEPS,
) -> None:
    """The analyst workflow: classify, explain, and write a predictions table and a one-page HTML summary."""
    images = expand_inputs(inputs) if inputs else sample_images()
    if not images:
        fail("no image files found in the given inputs")
    run = run_settings(runtime, precision, views)
    result = analyse(
        load(checkpoint),
        images,
        out,
        group_block=group_block,
        rendering=rendering,
        run=run,
        say=console.print,
        method=method,
        faithfulness_steps=faithfulness_steps,
    )
    table = Table("file", "label", "probability")
    for prediction in result.predictions:
        table.add_row(prediction.path.name, prediction.label, f"{prediction.probability:.3f}")
    Console().print(table)
    for item in result.skipped:
        console.print(f"[yellow]skipped[/] {item.reason}")
    print(f"summary page: {result.page.resolve()}")
    print(f"tables: {result.table_csv.resolve()} and {result.table_jsonl.name}")


def backbones() -> None:
    """List the backbones, their blocks, default auxiliary-head blocks and weight choices."""
    table = Table("backbone", "input", "blocks", "default aux blocks", "weights")
    for name in available_backbones():
        spec = backbone_spec(name)
        weights = "\n".join(f"{choice}: {source}" for choice, source in spec.weights.items())
        table.add_row(name, f"{spec.input_size}px", " ".join(spec.blocks), " ".join(spec.default_aux_blocks), weights)
    Console().print(table)
