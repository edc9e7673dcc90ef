"""``sentilens cv``, ``train`` and ``experiment layers|ablation``: parsing and printing only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from sentilens.app.configs import config_from_options, parse_taps
from sentilens.app.evaluate import run_block_experiment, run_cross_validation
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
from sentilens.selection import NestedSettings

#: ``--taps auto``: nested selection of the blocks inside each outer fold.
AUTO_TAPS = "auto"

ResultsOutOpt = Annotated[Path, typer.Option("--out", help="Folder for the result files (JSON and Markdown).")]


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
) -> None:
    """Cross-validate a model (stratified k-fold, duplicates kept together) and print Table 3.

    ``--taps auto`` chooses the blocks inside each outer fold from its training images only
    (nested cross-validation) and prints the blocks each fold chose.
    """
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
    run = run_cross_validation(
        data,
        subset,
        config,
        out,
        folds,
        baseline,
        run_dir,
        on_error,
        say=console.print,
        nested=nested if auto else None,
    )
    _show(run.table, run.files)


def train(
    data: DataArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoint file to write.")] = Path("sentilens-model.pt"),
    subset: Annotated[SingleSubset, typer.Option(help="Twitter I agreement subset.")] = SingleSubset.five,
    on_error: TrainOnErrorOpt = OnError.fail,
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
) -> None:
    """Train on a whole dataset and write a checkpoint.

    ``--taps auto`` chooses the blocks first, on the same training images, with the probe of
    ``cv --taps auto``.
    """
    auto = taps is not None and taps.strip().lower() == AUTO_TAPS
    nested = NestedSettings(aux_weights=(aux_weight,) if aux_weight is not None else NestedSettings().aux_weights)
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
    run = train_checkpoint(data, subset, config, out, on_error, say=console.print, auto=nested if auto else None)
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


@experiment_app.command("layers")
def experiment_layers(
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
    """Table 4: no auxiliary head, then one head on each block in turn."""
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
        "layers",
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


@experiment_app.command("ablation")
def experiment_ablation(
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
    """Table 5: every non-empty subset of the chosen blocks."""
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
        "ablation",
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
