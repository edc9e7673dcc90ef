"""``sentilens predict``, ``demo`` and ``backbones``: parsing and printing only.

Like every CLI module, this one imports at its top only what the commands' signatures need (light
modules: typer, the option types, the choice enums); the work's modules (torch, OpenVINO, ...) are
imported inside the command that runs, so that ``--help`` and the other commands stay fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from sentilens.app import OutputFormat
from sentilens.cli.errors import console, fail, finish
from sentilens.cli.options import (
    CalibrationOpt,
    CompileOpt,
    DecodeThreadsOpt,
    GroupRenderingOpt,
    ImageInputsArg,
    ImagesOnErrorOpt,
    PrecisionOpt,
    PredictBatchOpt,
    PredictCheckpointOpt,
    RayAddressOpt,
    RayOpt,
    RuntimeOpt,
    ViewsOpt,
    run_settings,
)
from sentilens.data import OnError
from sentilens.explain import DEFAULT_CAM_METHOD, DEFAULT_STEPS, CamMethod, GroupRendering
from sentilens.runtime import Precision, RunSettings, Runtime


def predict(
    inputs: ImageInputsArg,
    checkpoint: PredictCheckpointOpt = None,
    output_format: Annotated[
        Optional[OutputFormat],
        typer.Option(
            "--format",
            "-f",
            help="table, jsonl or csv (default: what the -o file's extension says, .csv, .jsonl or .json-lines; "
            "else table); a format that contradicts the extension is refused.  --ray writes Parquet and "
            "JSON-lines shards.",
        ),
    ] = None,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Write here instead of standard output.")
    ] = None,
    batch_size: PredictBatchOpt = RunSettings.batch_size,
    on_error: ImagesOnErrorOpt = OnError.skip,
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

    One row per input, in input order, skipped inputs included (status and reason).

    With --ray: the same inputs are classified on Ray into --output/-o, a folder of Parquet and
    JSON-lines shards; rerun the same command to resume.
    """
    from sentilens.app import output_format_for, predict_inputs

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
        if output_format is not None:
            fail("--ray writes Parquet and JSON-lines shards into --output; --format is for a run without --ray")
        if on_error is OnError.fail:
            fail(
                "--ray writes an undecodable image as a row with status 'skipped'; --on-error fail needs a run "
                "without --ray"
            )
        from sentilens.app import BatchSettings, run_batch

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
    chosen_format = output_format_for(output, output_format)
    result = predict_inputs(checkpoint, inputs, run, on_error, say=console.print)
    if output is None:
        result.write(sys.stdout, chosen_format)
    else:
        with open(output, "w", newline="", encoding="utf-8") as stream:
            result.write(stream, chosen_format)
    finish(len(result.predictions), result.skipped, "classified")


def demo(
    inputs: Annotated[
        Optional[list[Path]],
        typer.Argument(
            help="Image files, folders and CSV/Parquet listings, as for predict (default: scikit-image's sample "
            "images)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the summary page and tables.")] = Path(
        "sentilens-demo"
    ),
    checkpoint: PredictCheckpointOpt = None,
    on_error: ImagesOnErrorOpt = OnError.skip,
    group_block: Annotated[
        str, typer.Option("--group-block", "--group-tap", help="Block of the neuron-group pictures.")
    ] = "5b",
    runtime: RuntimeOpt = Runtime.auto,
    precision: PrecisionOpt = Precision.auto,
    views: ViewsOpt = None,
    rendering: GroupRenderingOpt = GroupRendering.specific,
    method: Annotated[
        CamMethod,
        typer.Option(
            "--method",
            help="CAM method of the map, or occlusion of the block's cells "
            "(default: the most faithful, see BENCHMARKS.md).",
        ),
    ] = DEFAULT_CAM_METHOD,
    faithfulness_steps: Annotated[
        int,
        typer.Option(help="Deletion/insertion steps of the score under each map (0: no scores; faster)."),
    ] = DEFAULT_STEPS,
) -> None:
    """The analyst workflow: classify, explain, and write a predictions table and a one-page HTML summary.

    Skipped images are listed on the page and in the tables with their reasons, in input order.
    """
    from sentilens.app import analyse, load
    from sentilens.data import sample_images

    run = run_settings(runtime, precision, views)
    result = analyse(
        load(checkpoint),
        inputs or sample_images(),
        out,
        group_block=group_block,
        rendering=rendering,
        run=run,
        on_error=on_error,
        say=console.print,
        method=method,
        faithfulness_steps=faithfulness_steps,
    )
    table = Table("file", "label", "probability")
    for prediction in result.predictions:
        table.add_row(prediction.path.name, prediction.label, f"{prediction.probability:.3f}")
    Console().print(table)
    print(f"summary page: {result.page.resolve()}")
    print(f"tables: {result.table_csv.resolve()} and {result.table_jsonl.name}")
    finish(len(result.predictions), result.skipped, "classified")


def backbones() -> None:
    """List the backbones, their blocks, default auxiliary-head blocks and weight choices."""
    from sentilens.models import available_backbones, backbone_spec

    table = Table("backbone", "input", "blocks", "default aux blocks", "weights")
    for name in available_backbones():
        spec = backbone_spec(name)
        weights = "\n".join(f"{choice}: {source}" for choice, source in spec.weights.items())
        table.add_row(name, f"{spec.input_size}px", " ".join(spec.blocks), " ".join(spec.default_aux_blocks), weights)
    Console().print(table)
