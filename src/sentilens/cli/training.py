"""``sentilens cv``, ``train`` and ``experiment layers|ablation``: parsing and printing only."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from sentilens.app.configs import config_from_options, parse_taps
from sentilens.app.evaluate import ExperimentKind, run_block_experiment, run_cross_validation
from sentilens.app.train import train_checkpoint
from sentilens.cli.errors import console
from sentilens.cli.options import (
    AuxTapsOpt,
    AuxWeightOpt,
    BackboneNameOpt,
    BackboneWeightsOpt,
    ConfigFileOpt,
    DataArg,
    DeviceOpt,
    EpochsOpt,
    FoldCountOpt,
    HeadLrOpt,
    PredictViewsOpt,
    RayAddressOpt,
    RayOpt,
    SingleSubset,
    SubsetChoice,
    TrainableFromOpt,
    TrainBatchOpt,
    TrainingModeOpt,
    TrainOnErrorOpt,
    TrainSeedOpt,
    TrainViewsOpt,
)
from sentilens.data.store import OnError
from sentilens.evaluation import NestedSettings
from sentilens.training import TrainConfig

#: ``--taps auto``: nested selection of the blocks inside each outer fold.
AUTO_TAPS = "auto"

ResultsOutOpt = Annotated[Path, typer.Option("--out", help="Folder for the result files (JSON and Markdown).")]


@dataclass(frozen=True)
class TrainingChoice:
    """What the training options ask for: a config, and nested selection settings for ``--taps auto``."""

    config: TrainConfig
    nested: NestedSettings | None


def training_options(
    config_file: ConfigFileOpt = None,
    backbone: BackboneNameOpt = None,
    weights: BackboneWeightsOpt = None,
    taps: AuxTapsOpt = None,
    aux_weight: AuxWeightOpt = None,
    mode: TrainingModeOpt = None,
    trainable_from: TrainableFromOpt = None,
    epochs: EpochsOpt = None,
    batch_size: TrainBatchOpt = None,
    lr: HeadLrOpt = None,
    seed: TrainSeedOpt = None,
    device: DeviceOpt = None,
    predict_views: PredictViewsOpt = None,
    train_views: TrainViewsOpt = None,
) -> TrainingChoice:
    """The options ``cv`` and ``train`` share, read into a config (``--taps auto``: no taps in it)."""
    nested = NestedSettings(aux_weights=(aux_weight,) if aux_weight is not None else NestedSettings().aux_weights)
    auto = taps is not None and taps.strip().lower() == AUTO_TAPS
    config = config_from_options(
        config_file,
        None if auto else taps,
        aux_weight,
        predict_views,
        train_views,
        backbone=backbone,
        weights=weights,
        mode=mode,
        trainable_from=trainable_from,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=device,
    )
    return TrainingChoice(config, nested if auto else None)


def with_training_options(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` with the options of :func:`training_options` after its own; it gets them read
    into one ``training`` argument (a :class:`TrainingChoice`), so each option is declared once."""
    shared = inspect.signature(training_options, eval_str=True).parameters
    own = inspect.signature(command, eval_str=True)
    parameters = [p for name, p in own.parameters.items() if name != "training"] + list(shared.values())

    @functools.wraps(command)
    def parsed(**options: Any) -> None:
        training = training_options(**{name: options.pop(name) for name in shared})
        command(**options, training=training)

    parsed.__signature__ = own.replace(parameters=parameters)  # type: ignore[attr-defined]
    parsed.__annotations__ = {p.name: p.annotation for p in parameters}
    return parsed


@with_training_options
def cv(
    data: DataArg,
    training: TrainingChoice,
    subset: Annotated[SubsetChoice, typer.Option(help="Twitter I agreement subset.")] = SubsetChoice.five,
    folds: FoldCountOpt = 5,
    baseline: Annotated[bool, typer.Option(help="Also score logistic regression on frozen pooled features.")] = False,
    out: ResultsOutOpt = Path("sentilens-results"),
    run_dir: Annotated[
        Optional[Path], typer.Option(help="Keep each finished fold here; rerun with the same folder to resume.")
    ] = None,
    on_error: TrainOnErrorOpt = OnError.fail,
) -> None:
    """Cross-validate a model (stratified k-fold, duplicates kept together) and print Table 3.

    ``--taps auto`` chooses the blocks inside each outer fold from its training images only
    (nested cross-validation) and prints the blocks each fold chose.
    """
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


@with_training_options
def train(
    data: DataArg,
    training: TrainingChoice,
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoint file to write.")] = Path("sentilens-model.pt"),
    subset: Annotated[SingleSubset, typer.Option(help="Twitter I agreement subset.")] = SingleSubset.five,
    on_error: TrainOnErrorOpt = OnError.fail,
) -> None:
    """Train on a whole dataset and write a checkpoint.

    ``--taps auto`` chooses the blocks first, on the same training images, with the probe of
    ``cv --taps auto``.
    """
    run = train_checkpoint(data, subset, training.config, out, on_error, say=console.print, auto=training.nested)
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
        "--blocks", help="Comma-separated blocks (default: every tap for layers, the config's taps for ablation)."
    ),
]


def experiment_command(kind: ExperimentKind, summary: str) -> Callable[..., None]:
    """The command of one block experiment; ``layers`` and ``ablation`` take the same options."""

    def command(
        data: DataArg,
        subset: Annotated[SingleSubset, typer.Option(help="Twitter I agreement subset.")] = SingleSubset.five,
        blocks: BlocksOpt = None,
        folds: FoldCountOpt = 5,
        out: ResultsOutOpt = Path("sentilens-results"),
        config_file: ConfigFileOpt = None,
        backbone: BackboneNameOpt = None,
        mode: TrainingModeOpt = None,
        trainable_from: TrainableFromOpt = None,
        epochs: EpochsOpt = None,
        seed: TrainSeedOpt = None,
        device: DeviceOpt = None,
        ray: RayOpt = False,
        ray_address: RayAddressOpt = None,
    ) -> None:
        config = config_from_options(
            config_file,
            backbone=backbone,
            mode=mode,
            trainable_from=trainable_from,
            epochs=epochs,
            seed=seed,
            device=device,
        )
        run = run_block_experiment(
            kind,
            data,
            subset,
            config,
            out,
            parse_taps(blocks) if blocks else None,
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
