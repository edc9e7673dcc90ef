"""Option types shared by several commands, named for what they hold, and option groups: options
that several commands take together, declared once and read into one value."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from sentilens.data import OnError
from sentilens.explain import GroupRendering
from sentilens.runtime import Precision, RunSettings, Runtime, parse_views


def with_option_group(
    options: Mapping[str, tuple[Any, Any]], read: Callable[..., Any], into: str
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the options ``options`` (name -> (annotated type, default)), read together by
    ``read`` into the command's keyword-only parameter ``into``; they stand where ``into`` stands.

    typer builds a command's options from its signature and has no option groups, so the group's
    parameters are spliced into the signature that typer reads, and the wrapper hands their values
    to ``read`` before calling the command with the one value it returns.  Decorators stack: each
    fills its own parameter.
    """
    keyword = inspect.Parameter.KEYWORD_ONLY
    shared = [inspect.Parameter(n, keyword, default=d, annotation=a) for n, (a, d) in options.items()]

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        own = list(inspect.signature(command, eval_str=True).parameters.values())
        at = [p.name for p in own].index(into)
        spliced = [p.replace(kind=keyword) for p in own[:at] + shared + own[at + 1 :]]

        @functools.wraps(command)
        def parsed(**given: Any) -> None:
            group = read(**{p.name: given.pop(p.name) for p in shared})
            command(**given, **{into: group})

        parsed.__signature__ = inspect.Signature(spliced)  # type: ignore[attr-defined]
        parsed.__annotations__ = {p.name: p.annotation for p in spliced}
        return parsed

    return decorate


class SubsetChoice(StrEnum):
    """A Twitter I agreement subset, or all three in turn."""

    five = "five"
    four = "four"
    three = "three"
    all = "all"


class SingleSubset(StrEnum):
    """One Twitter I agreement subset."""

    five = "five"
    four = "four"
    three = "three"


DataArg = Annotated[Path, typer.Argument(help="Twitter I root, a folder per class, or a path,label CSV.")]
FoldCountOpt = Annotated[int, typer.Option("--folds", help="Number of cross-validation folds.")]
TrainOnErrorOpt = Annotated[
    OnError,
    typer.Option(help="An image that cannot be decoded: fail (stop, naming it) or skip (leave it out, listed)."),
]


#: ``--on-error`` of every command that reads images to process them (predict, demo, explain):
#: one default, skip, so that one bad file never costs the others.
ImagesOnErrorOpt = Annotated[
    OnError,
    typer.Option(
        help="An image that cannot be decoded: skip (process the rest; it is listed with the reason in what the "
        "command writes) or fail (stop, naming it)."
    ),
]
#: The inputs of every command that reads images, expanded by one function (sentilens.data.find_images).
ImageInputsArg = Annotated[
    list[Path],
    typer.Argument(
        help="Image files, folders (searched recursively) and CSV/Parquet listings with a 'path' column "
        "(a path,label CSV is one; relative paths from the listing's folder)."
    ),
]


def _given_or_none(kind: Any, *flags: str, help: str, hidden: bool = False) -> tuple[Any, None]:
    """A training option: None unless given ("from --config, else the default")."""
    return Annotated[Optional[kind], typer.Option(*flags, help=help, hidden=hidden)], None


#: The training options, declared once: ``cv`` and ``train`` take them all, ``experiment
#: layers|ablation`` a few (see ``with_training_options`` in :mod:`sentilens.cli.training`).
TRAINING_OPTIONS = {
    "config_file": _given_or_none(Path, "--config", help="JSON training config; options given here override it."),
    "backbone": _given_or_none(
        str, "--backbone", help="Backbone: inception_v3 (default), googlenet or efficientnet_lite0."
    ),
    "weights": _given_or_none(str, "--weights", help="Backbone weights: imagenet, none, or a state-dict FILE."),
    "blocks": _given_or_none(
        str, "--blocks", help="Blocks with auxiliary heads, comma-separated; none; auto (cv: chosen in each fold)."
    ),
    # The name --blocks had before "tap" was renamed "block": kept for scripts, not shown.
    "taps": _given_or_none(str, "--taps", help="Older name of --blocks.", hidden=True),
    "aux_weight": _given_or_none(float, "--aux-weight", help="Weight of every auxiliary head (paper: 0.1)."),
    "mode": _given_or_none(str, "--mode", help="frozen (heads on cached features) or finetune."),
    "trainable_from": _given_or_none(
        str, "--trainable-from", help="finetune: first trainable block (default: whole backbone)."
    ),
    "epochs": _given_or_none(int, "--epochs", help="Training epochs (default 40 frozen, 10 finetune)."),
    "batch_size": _given_or_none(int, "--batch-size", help="Batch size."),
    "lr": _given_or_none(float, "--lr", help="Learning rate of the heads."),
    "seed": _given_or_none(int, "--seed", help="Random seed (folds, initialisation, flips)."),
    "device": _given_or_none(str, "--device", help="auto, cpu or cuda."),
    "predict_views": _given_or_none(
        str, "--predict-views", help="Views averaged in prediction, comma-separated: centre, mirror, zoom, zoom-mirror."
    ),
    "train_views": _given_or_none(
        str, "--train-views", help="Comma-separated views training samples are drawn from (frozen mode)."
    ),
    "companion": _given_or_none(
        str,
        "--companion",
        help="A second frozen ImageNet network whose logistic read-out votes beside the heads (half the vote): "
        "efficientnet_lite0 (the shipped model's recipe) or none (the paper; default).",
    ),
}

#: --checkpoint of predict and demo, which take no --backbone/--weights.
PredictCheckpointOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--checkpoint", "-c", help="Checkpoint written by 'sentilens train' (default: the shipped Twitter I model)."
    ),
]

# Model options of the commands that explain or inspect.
CheckpointOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--checkpoint",
        "-c",
        help="Checkpoint written by 'sentilens train' (default: the shipped Twitter I model, or fresh "
        "untrained heads for another --backbone or --weights).",
    ),
]
ModelBackboneOpt = Annotated[
    str, typer.Option("--backbone", help="Backbone when no checkpoint is given: inception_v3 or googlenet.")
]
ModelWeightsOpt = Annotated[
    str, typer.Option("--weights", help="Backbone weights when no checkpoint is given: imagenet, none or a FILE.")
]
PictureCacheOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--cache-dir",
        "--cache",
        help="Picture cache folder for channel and group pictures (default: channels/ and groups/ under "
        "$SENTILENS_CACHE or ~/.cache/sentilens).",
    ),
]
GroupRenderingOpt = Annotated[
    GroupRendering,
    typer.Option(
        help="Neuron-group pictures: specific (the group's direction relative to a reference profile, by "
        "activation maximisation) or paper (eq. 5, the weighted mean of the block's channel pictures)."
    ),
]
ReferenceOpt = Annotated[
    Optional[Path],
    typer.Option(
        help="Reference-profile file (sentilens explain reference); default: the shipped one when the "
        "backbone's weights match, else the images given."
    ),
]


@dataclass(frozen=True)
class ModelSource:
    """Which model a command that explains or inspects uses: a checkpoint, else the shipped model
    for ImageNet inception_v3, else ``backbone`` with ``weights`` and fresh heads."""

    checkpoint: Path | None
    backbone: str
    weights: str


#: ``--checkpoint``, ``--backbone`` and ``--weights`` with their defaults.
MODEL_OPTIONS = {
    "checkpoint": (CheckpointOpt, None),
    "backbone": (ModelBackboneOpt, "inception_v3"),
    "weights": (ModelWeightsOpt, "imagenet"),
}
#: The model options, read into the command's ``source`` parameter.
with_model_source = with_option_group(MODEL_OPTIONS, ModelSource, "source")


# How the network runs (predict, demo).
RuntimeOpt = Annotated[
    Runtime,
    typer.Option(
        "--runtime",
        help="auto (OpenVINO on x86 CPUs where it is installed, else torch; $SENTILENS_RUNTIME pins it), "
        "torch or openvino.",
    ),
]
PrecisionOpt = Annotated[
    Precision,
    typer.Option(
        "--precision",
        help="auto (int8 on OpenVINO; on torch bf16 where the CPU runs it natively, else fp32), fp32, bf16 or int8.",
    ),
]
ViewsOpt = Annotated[
    Optional[str],
    typer.Option(
        "--views",
        help="Views averaged per image: comma-separated names (centre, mirror, zoom, zoom-mirror), or 1 (the "
        "centre crop, one network pass per image) or 2 (centre and mirror); default: the model's setting, "
        "centre and mirror for the shipped model.",
    ),
]
CalibrationOpt = Annotated[
    Optional[list[Path]],
    typer.Option(
        "--calibration",
        help="Images or folders that int8 is calibrated on, e.g. the model's training images (default: fixed "
        "crops of the bundled sample photos); the quantised network is cached per calibration set.",
    ),
]
CompileOpt = Annotated[
    bool,
    typer.Option(
        "--compile",
        help="torch runtime: compile the network first (TorchInductor, needs a C++ compiler): a minute or two "
        "once, then about 1.5x faster; worth it from several thousand images.",
    ),
]
PredictBatchOpt = Annotated[int, typer.Option("--batch-size", help="Images per batch.")]
DecodeThreadsOpt = Annotated[
    Optional[int],
    typer.Option(
        "--decode-threads",
        "--workers",
        help="Decode threads ahead of the network (0: decode between batches; default 2, or 1 on one CPU); "
        "not with --ray, where Ray tasks decode.  --workers is its older name.",
    ),
]


def run_settings(
    runtime: Runtime = Runtime.auto,
    precision: Precision = Precision.auto,
    views: str | None = None,
    calibration: list[Path] | None = None,
    compiled: bool = False,
    batch_size: int = RunSettings.batch_size,
    decode_threads: int | None = None,
) -> RunSettings:
    """The one :class:`~sentilens.runtime.RunSettings` that the flags of a command (``predict``,
    ``demo``) say; ``--views`` 1 and 2 stand for their view names (:func:`~sentilens.runtime.parse_views`)."""
    return RunSettings(
        runtime=runtime,
        precision=precision,
        views=None if views is None else parse_views(views),
        compiled=compiled,
        calibration=None if calibration is None else tuple(calibration),
        batch_size=batch_size,
        decode_threads=decode_threads,
    )


# Ray: a local Ray on loopback (--ray), or a cluster (--ray-address).
RayOpt = Annotated[
    bool,
    typer.Option(
        "--ray",
        help="Run on Ray: without --ray-address, a local Ray on this machine that listens on 127.0.0.1 only.",
        rich_help_panel="Ray",
    ),
]
RayAddressOpt = Annotated[
    Optional[str],
    typer.Option(
        "--ray-address",
        help="Run on this Ray cluster (host:6379, ray://host:10001, or auto for the one this machine is in); "
        "implies --ray.",
        rich_help_panel="Ray",
    ),
]
