"""``sentilens inspect`` and ``sentilens suggest-layers``: choosing the auxiliary-head blocks.

Parsing and printing only; the work is in :mod:`sentilens.selection`.  Both take a backbone with
its ImageNet weights or a trained ``--checkpoint``; for a checkpoint the backbone's weights are
written beside the results (``backbone.pt``) so that the exported config can name them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

console = Console(stderr=True)

DataArg = Annotated[Path, typer.Argument(help="Twitter I root, a folder per class, or a path,label CSV.")]
SubsetOpt = Annotated[str, typer.Option(help="Twitter I agreement subset: five, four or three.")]
CheckpointOpt = Annotated[Optional[Path], typer.Option("--checkpoint", "-c", help="Trained model whose backbone to inspect (default: --backbone with --weights).")]
BackboneOpt = Annotated[str, typer.Option(help="Backbone when no checkpoint is given: inception_v3 or googlenet.")]
WeightsOpt = Annotated[str, typer.Option(help="Backbone weights when no checkpoint is given: imagenet, none or a FILE.")]
ProbeOpt = Annotated[int, typer.Option(help="Images (class-balanced sample) for the probe and separation; 0 = all.")]
KOpt = Annotated[int, typer.Option("--k", help="Size of the suggested set.")]
FoldsOpt = Annotated[int, typer.Option(help="Folds of the linear probe.")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the folds and the samples.")]


def _fail(error: Exception) -> None:
    console.print(f"[bold red]error:[/] {error}")
    raise typer.Exit(code=2)


def _expected_errors() -> tuple[type[Exception], ...]:
    from .data import DataError, ImageDecodeError
    from .models.backbones import WeightsUnavailableError
    from .models.checkpoint import CheckpointError

    return DataError, ImageDecodeError, WeightsUnavailableError, CheckpointError, ValueError


def _model_and_weights(checkpoint: Optional[Path], backbone: str, weights: str, out: Path):
    """The model and the ``weights`` value a config needs to rebuild its backbone."""
    import torch

    from .explain.tasks import load_model

    model, _ = load_model(checkpoint, backbone, weights)
    if checkpoint is None:
        return model, weights
    out.mkdir(parents=True, exist_ok=True)
    path = (out / "backbone.pt").resolve()
    torch.save(model.backbone.state_dict(), path)
    return model, str(path)


def suggest_layers(
    data: DataArg,
    subset: SubsetOpt = "five",
    checkpoint: CheckpointOpt = None,
    backbone: BackboneOpt = "inception_v3",
    weights: WeightsOpt = "imagenet",
    probe_images: ProbeOpt = 0,
    k: KOpt = 3,
    folds: FoldsOpt = 5,
    seed: SeedOpt = 0,
    out: Annotated[Path, typer.Option(help="Folder for suggest.md, suggest.json and suggested-config.json.")] = Path("sentilens-results"),
) -> None:
    """Rank the blocks by linear-probe accuracy and NMF separation and print a suggested set."""
    from .data import load_dataset
    from .data.store import decode_dataset
    from .selection import rank_taps, stratified_subset

    began = time.perf_counter()
    try:
        dataset = load_dataset(data, subset)
        dataset.require_all_classes()
        model, weights_name = _model_and_weights(checkpoint, backbone, weights, out)
        sample = stratified_subset(dataset, probe_images or None, seed)
        sample, images, skipped = decode_dataset(sample, model.backbone.input_size, on_error="skip")
        for failure in skipped:
            console.print(f"[yellow]skipped[/] {failure.reason}")
        ranking = rank_taps(model.backbone, weights_name, sample, images, k=k, n_splits=folds, seed=seed)
        config = ranking.config()
    except _expected_errors() as error:
        _fail(error)
    ranking.seconds = time.perf_counter() - began
    out.mkdir(parents=True, exist_ok=True)
    (out / "suggest.md").write_text(ranking.markdown(), encoding="utf-8")
    (out / "suggest.json").write_text(json.dumps(ranking.to_dict(), indent=2), encoding="utf-8")
    (out / "suggested-config.json").write_text(json.dumps(config.to_dict(), indent=2), encoding="utf-8")
    print(ranking.markdown(), end="")
    console.print(f"config for --config: [bold]{out / 'suggested-config.json'}[/]")


def inspect(
    data: DataArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Report folder (index.html, taps/*.png).")] = Path("sentilens-inspect"),
    subset: SubsetOpt = "five",
    checkpoint: CheckpointOpt = None,
    backbone: BackboneOpt = "inception_v3",
    weights: WeightsOpt = "imagenet",
    per_class: Annotated[int, typer.Option(help="Images of each class shown as neuron-group pictures.")] = 6,
    probe_images: ProbeOpt = 200,
    k: KOpt = 3,
    folds: FoldsOpt = 5,
    seed: SeedOpt = 0,
    ascent_mode: Annotated[str, typer.Option(help="Channel pictures: regularised or plain (the paper).")] = "regularised",
    ascent_size: Annotated[Optional[int], typer.Option(help="Channel-picture canvas in px (default 96 regularised, input size plain).")] = None,
    ascent_steps: Annotated[int, typer.Option(help="Gradient-ascent steps per channel picture.")] = 64,
    ascent_batch: Annotated[int, typer.Option(help="Channels optimised together.")] = 64,
    cache: Annotated[Optional[Path], typer.Option(help="Channel-picture cache folder (default $SENTILENS_CACHE or ~/.cache/sentilens/channels).")] = None,
) -> None:
    """Build the HTML report in which a person picks the auxiliary-head blocks and exports a config."""
    from .data import load_dataset
    from .explain import AscentSettings
    from .selection.inspect import build_inspection

    try:
        dataset = load_dataset(data, subset)
        dataset.require_all_classes()
        settings = AscentSettings(mode=ascent_mode, size=ascent_size, steps=ascent_steps, batch_size=ascent_batch, seed=seed)
        model, weights_name = _model_and_weights(checkpoint, backbone, weights, out)
        source = (f"checkpoint {checkpoint}" if checkpoint else
                  f"{model.backbone.name} ({weights_name} weights; fresh heads, so Grad-CAM explains an untrained decision)")
        report = build_inspection(model, weights_name, dataset, out, per_class=per_class, probe_images=probe_images or None,
                                  settings=settings, cache_dir=cache, k=k, n_splits=folds, seed=seed, source=source)
    except _expected_errors() as error:
        _fail(error)
    print(report.ranking.markdown(), end="")
    console.print(f"report: [bold]{report.index.resolve().as_uri()}[/]")


def register(app: typer.Typer) -> None:
    """Add ``inspect`` and ``suggest-layers`` to the ``sentilens`` command."""
    app.command("inspect")(inspect)
    app.command("suggest-layers")(suggest_layers)
