"""``sentilens explain ...``: the paper's visualisations from the command line (parsing only).

Every command takes ``--checkpoint FILE`` (a model written by ``sentilens train``); without one it
uses the shipped Twitter I model (inception_v3 with ImageNet weights), or, for another
``--backbone`` or ``--weights``, that backbone with fresh, untrained heads: fine for channel
pictures, spatial grids and neuron groups (they depend on the backbone only), while class-specific
Grad-CAM maps then explain an untrained decision.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from sentilens.app import (
    Written,
    load_model,
    run_channels,
    run_gradcam,
    run_groups,
    run_reference,
    run_spatial,
    run_splice,
)
from sentilens.cli.errors import console
from sentilens.cli.options import (
    CheckpointOpt,
    DataArg,
    GroupRenderingOpt,
    ModelBackboneOpt,
    ModelWeightsOpt,
    PictureCacheOpt,
    ReferenceOpt,
    SingleSubset,
)
from sentilens.data import load_dataset
from sentilens.explain import AscentMode, AscentSettings, GroupRendering, SpatialRendering, SpliceLayout

explain_app = typer.Typer(
    help="Visualisations: Grad-CAM, channel pictures, spatial grids, NMF neuron groups, spliced images.",
    no_args_is_help=True,
)
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Folder for PNG figures and .npy arrays.")]
AscentModeOpt = Annotated[
    AscentMode,
    typer.Option("--mode", help="Activation maximisation: regularised (Olah et al., cleaner) or plain (the paper)."),
]
SizeOpt = Annotated[
    Optional[int], typer.Option(help="Canvas side in px (default: input size for plain, 96 for regularised).")
]
StepsOpt = Annotated[int, typer.Option(help="Gradient-ascent steps per channel picture.")]
LrOpt = Annotated[float, typer.Option(help="Gradient-ascent step size (paper: 0.05).")]
BatchOpt = Annotated[int, typer.Option(help="Channels optimised together.")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the starting noise and transforms.")]


def _settings(
    mode: AscentMode, size: Optional[int], steps: int, lr: float, batch_size: int, seed: int
) -> AscentSettings:
    return AscentSettings(mode=mode, size=size, steps=steps, lr=lr, batch_size=batch_size, seed=seed)


def _print(written: Written) -> None:
    """The task's notes, then the files it wrote."""
    for note in written.notes:
        console.print(note)
    for path in written.files:
        console.print(f"wrote [bold]{path}[/]")


def _channel_list(text: Optional[str]) -> Optional[list[int]]:
    """``"0,5,9"`` or ``"0:16"`` to a list of channel indices; None for all."""
    if text is None:
        return None
    try:
        if ":" in text:
            first, last = text.split(":", 1)
            return list(range(int(first), int(last)))
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: expected channel numbers like '0:16' or '3,7'", param_hint="--channels"
        ) from None


@explain_app.command()
def gradcam(
    inputs: Annotated[list[Path], typer.Argument(help="Image files and/or folders (searched recursively).")],
    block: Annotated[
        Optional[str],
        typer.Option(
            "--block", "--tap", help="Block to explain, e.g. 6e or 7c (googlenet 4b, 5b); default the last block."
        ),
    ] = None,
    target: Annotated[
        Optional[int],
        typer.Option(help="Class index to explain (0 negative, 1 positive); default the fused prediction."),
    ] = None,
    checkpoint: CheckpointOpt = None,
    backbone: ModelBackboneOpt = "inception_v3",
    weights: ModelWeightsOpt = "imagenet",
    out: OutOpt = Path("sentilens-explain"),
) -> None:
    """Grad-CAM overlays of the fused prediction (or --target) at a block, for files or folders."""
    model, names = load_model(checkpoint, backbone, weights)
    _print(run_gradcam(model, names, inputs, block, out, target))


@explain_app.command()
def channels(
    block: Annotated[str, typer.Option("--block", "--tap", help="Block whose channels to visualise.")],
    select: Annotated[
        Optional[str],
        typer.Option(
            "--channels", help="Only these channels, e.g. '0:16' or '3,7' (not cached); default all (cached)."
        ),
    ] = None,
    checkpoint: CheckpointOpt = None,
    backbone: ModelBackboneOpt = "inception_v3",
    weights: ModelWeightsOpt = "imagenet",
    out: OutOpt = Path("sentilens-explain"),
    mode: AscentModeOpt = AscentMode.regularised,
    size: SizeOpt = None,
    steps: StepsOpt = 64,
    lr: LrOpt = 0.05,
    batch_size: BatchOpt = 64,
    seed: SeedOpt = 0,
    cache_dir: PictureCacheOpt = None,
) -> None:
    """Channel pictures by activation maximisation (eq. 1-2), many channels per batch."""
    model, _ = load_model(checkpoint, backbone, weights)
    settings = _settings(mode, size, steps, lr, batch_size, seed)
    _print(run_channels(model, block, out, settings, _channel_list(select), cache_dir))


@explain_app.command()
def spatial(
    image: Annotated[Path, typer.Argument(help="One image file.")],
    block: Annotated[str, typer.Option("--block", "--tap", help="Block whose map is drawn, one cell per position.")],
    cell_size: Annotated[int, typer.Option(help="Side of each cell in px.")] = 32,
    top_k: Annotated[
        Optional[int],
        typer.Option(help="Channels per cell (default: 3 for strongest, all for paper as in eq. 3)."),
    ] = None,
    rendering: Annotated[
        SpatialRendering,
        typer.Option(
            help="strongest: each cell's channels most active relative to the reference profile; "
            "paper: all channels weighted by activation (eq. 3)."
        ),
    ] = SpatialRendering.strongest,
    reference: ReferenceOpt = None,
    checkpoint: CheckpointOpt = None,
    backbone: ModelBackboneOpt = "inception_v3",
    weights: ModelWeightsOpt = "imagenet",
    out: OutOpt = Path("sentilens-explain"),
    mode: AscentModeOpt = AscentMode.regularised,
    size: SizeOpt = None,
    steps: StepsOpt = 64,
    lr: LrOpt = 0.05,
    batch_size: BatchOpt = 64,
    seed: SeedOpt = 0,
    cache_dir: PictureCacheOpt = None,
) -> None:
    """Spatial-location grid (eq. 3): activation-weighted channel pictures at each map position."""
    model, _ = load_model(checkpoint, backbone, weights)
    settings = _settings(mode, size, steps, lr, batch_size, seed)
    _print(run_spatial(model, image, block, out, settings, cache_dir, cell_size, top_k, rendering, reference))


@explain_app.command()
def groups(
    negative: Annotated[list[Path], typer.Option("--negative", help="Negative image file or folder (repeatable).")],
    positive: Annotated[list[Path], typer.Option("--positive", help="Positive image file or folder (repeatable).")],
    block: Annotated[
        list[str], typer.Option("--block", "--tap", help="Block to factorise (repeatable: one figure row each).")
    ],
    rank: Annotated[int, typer.Option("--rank", "-r", help="Neuron groups per image (paper: 1).")] = 1,
    rendering: GroupRenderingOpt = GroupRendering.specific,
    reference: ReferenceOpt = None,
    checkpoint: CheckpointOpt = None,
    backbone: ModelBackboneOpt = "inception_v3",
    weights: ModelWeightsOpt = "imagenet",
    out: OutOpt = Path("sentilens-explain"),
    mode: AscentModeOpt = AscentMode.regularised,
    size: SizeOpt = None,
    steps: StepsOpt = 64,
    lr: LrOpt = 0.05,
    batch_size: BatchOpt = 64,
    seed: SeedOpt = 0,
    cache_dir: PictureCacheOpt = None,
) -> None:
    """NMF neuron groups (eq. 4-5): where each group fires and its picture, and the class contrast, per block."""
    model, _ = load_model(checkpoint, backbone, weights)
    settings = _settings(mode, size, steps, lr, batch_size, seed)
    _print(run_groups(model, negative, positive, block, out, settings, rank, cache_dir, rendering, reference))


@explain_app.command()
def reference(
    data: DataArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="The profile file to write (.npz).")],
    subset: Annotated[SingleSubset, typer.Option(help="Twitter I agreement subset.")] = SingleSubset.three,
    checkpoint: CheckpointOpt = None,
    backbone: ModelBackboneOpt = "inception_v3",
    weights: ModelWeightsOpt = "imagenet",
) -> None:
    """Reference profiles of every block over a data set: the typical neuron group that the
    image-specific pictures are drawn against (use with --reference)."""
    model, _ = load_model(checkpoint, backbone, weights)
    _print(run_reference(model, load_dataset(data, subset), out, say=console.print))


@explain_app.command()
def splice(
    negative: Annotated[Path, typer.Argument(help="Negative image (left half).")],
    positive: Annotated[Path, typer.Argument(help="Positive image (right half).")],
    block: Annotated[
        Optional[str], typer.Option("--block", "--tap", help="Block to explain (default: the last block).")
    ] = None,
    layout: Annotated[
        SpliceLayout, typer.Option(help="squash (whole images, half width) or crop (central strips).")
    ] = SpliceLayout.squash,
    checkpoint: CheckpointOpt = None,
    backbone: ModelBackboneOpt = "inception_v3",
    weights: ModelWeightsOpt = "imagenet",
    out: OutOpt = Path("sentilens-explain"),
) -> None:
    """Spliced-image test: Grad-CAM of the prediction on negative|positive and the matching share."""
    model, names = load_model(checkpoint, backbone, weights)
    _print(run_splice(model, names, negative, positive, out, block, layout))
