"""``sentilens explain ...``: the paper's visualisations from the command line (parsing only).

Every command takes ``--checkpoint FILE`` (a model written by ``sentilens train``); without one it
uses the shipped Twitter I model (inception_v3 with ImageNet weights), or, for another
``--backbone`` or ``--weights``, that backbone with fresh, untrained heads: fine for channel
pictures, spatial grids and neuron groups (they depend on the backbone only), while class-specific
Grad-CAM maps then explain an untrained decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from sentilens.cli.errors import EXIT_STATUS_HELP, console, finish
from sentilens.cli.options import (
    MODEL_OPTIONS,
    DataArg,
    GroupRenderingOpt,
    ImageInputsArg,
    ImagesOnErrorOpt,
    ModelSource,
    PictureCacheOpt,
    PrecisionOpt,
    ReferenceOpt,
    RuntimeOpt,
    SingleSubset,
    ViewsOpt,
    run_settings,
    with_model_source,
    with_option_group,
)
from sentilens.data import OnError
from sentilens.explain import (
    DEFAULT_CAM_METHOD,
    DEFAULT_STEPS,
    AscentMode,
    CamMethod,
    Fill,
    GroupRendering,
    SpatialRendering,
    SpliceLayout,
)
from sentilens.runtime import Precision, Runtime

if TYPE_CHECKING:
    from sentilens.app import Written
    from sentilens.explain import AscentSettings
    from sentilens.models import SentimentModel

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
MethodOpt = Annotated[
    CamMethod,
    typer.Option(
        "--method",
        help="CAM method of pytorch-grad-cam, or occlusion of the block's cells (one forward pass per cell); "
        "default: the most faithful, see BENCHMARKS.md.",
    ),
]


@dataclass(frozen=True)
class PictureJob:
    """A command that draws pictures: the model, where to write, how pictures are drawn by
    activation maximisation, and where they are cached."""

    model: SentimentModel
    out: Path
    settings: AscentSettings
    cache_dir: Path | None


def _load(source: ModelSource) -> tuple[SentimentModel, tuple[str, ...]]:
    from sentilens.app import load_model

    return load_model(source.checkpoint, source.backbone, source.weights)


def _picture_job(
    checkpoint: Optional[Path],
    backbone: str,
    weights: str,
    out: Path,
    cache_dir: Optional[Path],
    **ascent: Any,
) -> PictureJob:
    from sentilens.app import load_model
    from sentilens.explain import AscentSettings

    model, _ = load_model(checkpoint, backbone, weights)
    return PictureJob(model, out, AscentSettings(**ascent), cache_dir)


#: The options of the commands that draw pictures: the model, the output folder and activation maximisation.
with_picture_options = with_option_group(
    {
        **MODEL_OPTIONS,
        "out": (OutOpt, Path("sentilens-explain")),
        "mode": (AscentModeOpt, AscentMode.regularised),
        "size": (SizeOpt, None),
        "steps": (StepsOpt, 64),
        "lr": (LrOpt, 0.05),
        "batch_size": (BatchOpt, 64),
        "seed": (SeedOpt, 0),
        "cache_dir": (PictureCacheOpt, None),
    },
    _picture_job,
    "job",
)


def _print(written: Written) -> None:
    """The task's notes, then the files it wrote; for a task that reads images, what it skipped,
    ending with the "nothing processed" status when it processed none."""
    for note in written.notes:
        console.print(note)
    for path in written.files:
        console.print(f"wrote [bold]{path}[/]")
    if written.processed is not None:
        finish(written.processed, written.skipped, "explained")


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


@explain_app.command(epilog=EXIT_STATUS_HELP)
@with_model_source
def gradcam(
    inputs: ImageInputsArg,
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
    out: OutOpt = Path("sentilens-explain"),
    on_error: ImagesOnErrorOpt = OnError.skip,
    runtime: RuntimeOpt = Runtime.auto,
    precision: PrecisionOpt = Precision.auto,
    views: ViewsOpt = None,
    method: MethodOpt = DEFAULT_CAM_METHOD,
    *,
    source: ModelSource,
) -> None:
    """Grad-CAM (or --method) overlays of the prediction (or --target) at a block, for files, folders or listings.

    The label and probability shown are what 'sentilens predict' returns with the same --runtime,
    --precision and --views; the map itself comes from a float32 torch pass of the centre crop, and
    the figure names that pass's probability where it differs.
    """
    from sentilens.app import load_classifier, run_gradcam

    classifier = load_classifier(source.checkpoint, source.backbone, source.weights)
    run = run_settings(runtime, precision, views)
    _print(run_gradcam(classifier, inputs, block, out, target, run, on_error, say=console.print, method=method))


@explain_app.command()
@with_picture_options
def channels(
    block: Annotated[str, typer.Option("--block", "--tap", help="Block whose channels to visualise.")],
    select: Annotated[
        Optional[str],
        typer.Option(
            "--channels", help="Only these channels, e.g. '0:16' or '3,7' (not cached); default all (cached)."
        ),
    ] = None,
    *,
    job: PictureJob,
) -> None:
    """Channel pictures by activation maximisation (eq. 1-2), many channels per batch."""
    from sentilens.app import run_channels

    _print(run_channels(job.model, block, job.out, job.settings, _channel_list(select), job.cache_dir))


@explain_app.command(epilog=EXIT_STATUS_HELP)
@with_picture_options
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
    on_error: ImagesOnErrorOpt = OnError.skip,
    *,
    job: PictureJob,
) -> None:
    """Spatial-location grid (eq. 3): activation-weighted channel pictures at each map position."""
    from sentilens.app import run_spatial

    _print(
        run_spatial(
            job.model,
            image,
            block,
            job.out,
            job.settings,
            job.cache_dir,
            cell_size,
            top_k,
            rendering,
            reference,
            on_error,
        )
    )


@explain_app.command(epilog=EXIT_STATUS_HELP)
@with_picture_options
def groups(
    negative: Annotated[list[Path], typer.Option("--negative", help="Negative image file or folder (repeatable).")],
    positive: Annotated[list[Path], typer.Option("--positive", help="Positive image file or folder (repeatable).")],
    block: Annotated[
        list[str], typer.Option("--block", "--tap", help="Block to factorise (repeatable: one figure row each).")
    ],
    rank: Annotated[int, typer.Option("--rank", "-r", help="Neuron groups per image (paper: 1).")] = 1,
    rendering: GroupRenderingOpt = GroupRendering.specific,
    reference: ReferenceOpt = None,
    on_error: ImagesOnErrorOpt = OnError.skip,
    *,
    job: PictureJob,
) -> None:
    """NMF neuron groups (eq. 4-5): where each group fires and its picture, and the class contrast, per block."""
    from sentilens.app import run_groups

    _print(
        run_groups(
            job.model,
            negative,
            positive,
            block,
            job.out,
            job.settings,
            rank,
            job.cache_dir,
            rendering,
            reference,
            on_error,
        )
    )


@explain_app.command()
@with_model_source
def reference(
    data: DataArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="The profile file to write (.npz).")],
    subset: Annotated[SingleSubset, typer.Option(help="Twitter I agreement subset.")] = SingleSubset.three,
    *,
    source: ModelSource,
) -> None:
    """Reference profiles of every block over a data set: the typical neuron group that the
    image-specific pictures are drawn against (use with --reference)."""
    from sentilens.app import run_reference
    from sentilens.data import load_dataset

    _print(run_reference(_load(source)[0], load_dataset(data, subset), out, say=console.print))


@explain_app.command(epilog=EXIT_STATUS_HELP)
@with_model_source
def splice(
    negative: Annotated[Path, typer.Argument(help="Negative image (left half).")],
    positive: Annotated[Path, typer.Argument(help="Positive image (right half).")],
    block: Annotated[
        Optional[str], typer.Option("--block", "--tap", help="Block to explain (default: the last block).")
    ] = None,
    layout: Annotated[
        SpliceLayout, typer.Option(help="squash (whole images, half width) or crop (central strips).")
    ] = SpliceLayout.squash,
    out: OutOpt = Path("sentilens-explain"),
    on_error: ImagesOnErrorOpt = OnError.skip,
    *,
    source: ModelSource,
) -> None:
    """Spliced-image test: Grad-CAM of the prediction on negative|positive and the matching share."""
    from sentilens.app import run_splice

    _print(run_splice(*_load(source), negative, positive, out, block, layout, on_error))


@explain_app.command()
@with_model_source
def faithfulness(
    data: DataArg,
    block: Annotated[
        Optional[list[str]], typer.Option("--block", help="Block of the map (repeatable); default the default map's.")
    ] = None,
    method: Annotated[
        Optional[list[CamMethod]],
        typer.Option("--method", help="CAM method (repeatable); default the default map's."),
    ] = None,
    subset: Annotated[SingleSubset, typer.Option(help="Twitter I agreement subset.")] = SingleSubset.five,
    limit: Annotated[int, typer.Option(help="Images drawn at random from DATA (0: all).")] = 20,
    steps: Annotated[int, typer.Option(help="Portions in which pixels are removed or revealed.")] = DEFAULT_STEPS,
    fill: Annotated[
        Optional[list[Fill]], typer.Option("--fill", help="What replaces removed pixels (repeatable; default blur).")
    ] = None,
    road: Annotated[bool, typer.Option(help="Also ROAD most/least relevant first (pytorch-grad-cam; slower).")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the image draw, random orders and bootstrap.")] = 0,
    where: Annotated[
        bool, typer.Option("--where", help="Also the neuron group's 'where' map at each block (as the pages draw it).")
    ] = False,
    probe: Annotated[
        bool, typer.Option("--probe", help="Also the block's linear-probe map at each block (as inspect draws it).")
    ] = False,
    reference_images: Annotated[
        int,
        typer.Option(help="Other images of DATA (class-balanced) fitting the probe and the usual where of groups."),
    ] = 200,
    out: OutOpt = Path("sentilens-explain"),
    *,
    source: ModelSource,
) -> None:
    """Deletion and insertion AUC of the maps on the fused verdict against random cells, random
    pixels, centre- and border-first orders, with bootstrap 95 % intervals: faithfulness.json.

    Measure a model on images it did not train on (the shipped model trained on all of Twitter I;
    benchmarks/faithfulness.py uses held-out folds).  --where and --probe make their maps from
    other images of DATA than the measured ones."""
    from sentilens.app import run_faithfulness
    from sentilens.data import load_dataset

    model, _ = _load(source)
    _print(
        run_faithfulness(
            model,
            load_dataset(data, subset),
            out,
            block,
            method or [DEFAULT_CAM_METHOD],
            limit or None,
            steps,
            fill or [Fill.blur],
            road,
            seed,
            say=console.print,
            where=where,
            probe=probe,
            reference_images=reference_images or None,
        )
    )


@explain_app.command()
@with_model_source
def sanity(
    data: DataArg,
    block: Annotated[
        Optional[str], typer.Option("--block", help="Block of the map; default the default map's.")
    ] = None,
    method: MethodOpt = DEFAULT_CAM_METHOD,
    subset: Annotated[SingleSubset, typer.Option(help="Twitter I agreement subset.")] = SingleSubset.five,
    limit: Annotated[int, typer.Option(help="Images drawn at random from DATA (0: all).")] = 10,
    depth: Annotated[int, typer.Option(help="Blocks randomised below the heads, from the top.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the image draw and the fresh weights.")] = 0,
    out: OutOpt = Path("sentilens-explain"),
    *,
    source: ModelSource,
) -> None:
    """Model-randomisation sanity check (Adebayo et al. 2018): the heads, then blocks from the top
    re-initialised in turn; Spearman and SSIM of each image's map against the trained map: sanity.json."""
    from sentilens.app import run_sanity
    from sentilens.data import load_dataset

    model, _ = _load(source)
    _print(run_sanity(model, load_dataset(data, subset), out, block, method, limit or None, depth, seed))
