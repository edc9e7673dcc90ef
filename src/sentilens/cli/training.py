"""``sentilens cv``, ``train`` and ``experiment layers|ablation``: parsing and printing only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from sentilens.cli.errors import console, fail
from sentilens.cli.options import (
    TRAINING_OPTIONS,
    DataArg,
    FoldCountOpt,
    RayAddressOpt,
    RayOpt,
    SingleSubset,
    SubsetChoice,
    TrainOnErrorOpt,
    with_option_group,
)
from sentilens.data import OnError

if TYPE_CHECKING:
    from sentilens.app import ExperimentKind
    from sentilens.evaluation import NestedSettings
    from sentilens.training import TrainConfig

#: ``--blocks auto``: nested selection of the blocks inside each outer fold.
AUTO_BLOCKS = "auto"

ResultsOutOpt = Annotated[Path, typer.Option("--out", help="Folder for the result files (JSON and Markdown).")]


@dataclass(frozen=True)
class TrainingChoice:
    """What the training options ask for: a config, and nested selection settings for ``--blocks auto``."""

    config: TrainConfig
    nested: NestedSettings | None


#: The training options of ``experiment layers|ablation`` (they choose the blocks themselves).
EXPERIMENT_OPTIONS = ("config_file", "backbone", "mode", "trainable_from", "epochs", "seed", "device")


def read_training_options(
    config_file: Path | None = None,
    blocks: str | None = None,
    aux_weight: float | None = None,
    predict_views: str | None = None,
    train_views: str | None = None,
    taps: str | None = None,
    **overrides: Any,
) -> TrainingChoice:
    """The training options read into a config (``--blocks auto``: none in it, nested settings instead);
    ``taps`` is the older name of ``--blocks``."""
    from sentilens.app import config_from_options
    from sentilens.evaluation import NestedSettings

    if taps is not None:
        if blocks is not None:
            fail("give --blocks or its older name --taps, not both")
        blocks = taps
    nested = NestedSettings(aux_weights=(aux_weight,) if aux_weight is not None else NestedSettings().aux_weights)
    auto = blocks is not None and blocks.strip().lower() == AUTO_BLOCKS
    config = config_from_options(
        config_file, None if auto else blocks, aux_weight, predict_views, train_views, **overrides
    )
    return TrainingChoice(config, nested if auto else None)


def with_training_options(*names: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the options ``names`` of :data:`TRAINING_OPTIONS` (default: all of them),
    read by :func:`read_training_options` into its keyword-only ``training`` parameter."""
    chosen = {n: TRAINING_OPTIONS[n] for n in names or TRAINING_OPTIONS}
    return with_option_group(chosen, read_training_options, "training")


@with_training_options()
def cv(
    data: DataArg,
    subset: Annotated[SubsetChoice, typer.Option(help="Twitter I agreement subset.")] = SubsetChoice.five,
    folds: FoldCountOpt = 5,
    baseline: Annotated[bool, typer.Option(help="Also score logistic regression on frozen pooled features.")] = False,
    out: ResultsOutOpt = Path("sentilens-results"),
    run_dir: Annotated[
        Optional[Path], typer.Option(help="Keep each finished fold here; rerun with the same folder to resume.")
    ] = None,
    on_error: TrainOnErrorOpt = OnError.fail,
    *,
    training: TrainingChoice,
) -> None:
    """Cross-validate a model (stratified k-fold, duplicates kept together) and print Table 3.

    ``--blocks auto`` chooses the blocks inside each outer fold from its training images only
    (nested cross-validation) and prints the blocks each fold chose.
    """
    from sentilens.app import run_cross_validation

    run = run_cross_validation(
        data,
        subset,
        training.config,
        out,
        folds,
        baseline,
        run_dir,
        on_error,
        say=console.print,
        nested=training.nested,
    )
    _show(run.table, run.files)


@with_training_options()
def train(
    data: DataArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoint file to write.")] = Path("sentilens-model.pt"),
    subset: Annotated[SingleSubset, typer.Option(help="Twitter I agreement subset.")] = SingleSubset.five,
    on_error: TrainOnErrorOpt = OnError.fail,
    calibration_folds: Annotated[
        int,
        typer.Option(
            "--calibration-folds",
            help="Calibrate the probabilities: fit a temperature on this many folds' out-of-fold predictions of "
            "the same recipe on the training images (0: no calibration, temperature 1).",
        ),
    ] = 5,
    *,
    training: TrainingChoice,
) -> None:
    """Train on a whole dataset and write a checkpoint with calibrated probabilities.

    ``--blocks auto`` chooses the blocks first, on the same training images, with the probe of
    ``cv --blocks auto``.  The temperature is fitted on out-of-fold predictions of the same
    recipe (block choice included) on the training images, after the model is trained.
    """
    from sentilens.app import train_checkpoint

    run = train_checkpoint(
        data,
        subset,
        training.config,
        out,
        on_error,
        say=console.print,
        auto=training.nested,
        calibration_folds=calibration_folds,
    )
    console.print(f"trained on {run.images} images of {run.dataset}; final loss {run.losses[-1]:.4f}")
    console.print(f"checkpoint written to [bold]{run.checkpoint}[/]")


def _show(table: str, files: list[Path]) -> None:
    """The result table on standard output, where it was written on standard error."""
    print(table)
    console.print(f"results written to [bold]{files[0].parent}/[/] ({', '.join(f.name for f in files)})")


experiment_app = typer.Typer(
    help="The paper's block experiments (Tables 4 and 5) on shared folds.", no_args_is_help=True
)

BlocksOpt = Annotated[
    Optional[str],
    typer.Option(
        "--blocks", help="Comma-separated blocks (default: every block for layers, the config's blocks for ablation)."
    ),
]


def experiment_command(kind: ExperimentKind, summary: str) -> Callable[..., None]:
    """The command of one block experiment; ``layers`` and ``ablation`` take the same options."""

    @with_training_options(*EXPERIMENT_OPTIONS)
    def command(
        data: DataArg,
        subset: Annotated[SingleSubset, typer.Option(help="Twitter I agreement subset.")] = SingleSubset.five,
        blocks: BlocksOpt = None,
        folds: FoldCountOpt = 5,
        out: ResultsOutOpt = Path("sentilens-results"),
        *,
        training: TrainingChoice,
        ray: RayOpt = False,
        ray_address: RayAddressOpt = None,
    ) -> None:
        from sentilens.app import parse_blocks, run_block_experiment

        blocks_given = parse_blocks(blocks) if blocks else None
        run = run_block_experiment(
            kind,
            data,
            subset,
            training.config,
            out,
            blocks_given,
            folds,
            ray=ray,
            ray_address=ray_address,
            say=console.print,
        )
        _show(run.table, run.files)

    command.__doc__ = summary
    return command


experiment_app.command("layers")(
    experiment_command("layers", "Table 4: no auxiliary head, then one head on each block in turn.")
)
experiment_app.command("ablation")(
    experiment_command("ablation", "Table 5: every non-empty subset of the chosen blocks.")
)
