"""Train on a whole dataset and write a checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from sentilens.app.evaluate import decode_for
from sentilens.data import OnError, load_dataset
from sentilens.evaluation import NestedSettings, block_chooser, out_of_fold_temperature
from sentilens.models import build_model, save_checkpoint
from sentilens.training import TrainConfig, boundary_stage, companion_features, fit, fit_read_out, prepare_cache
from sentilens.utils import InvalidArgumentError, Say, quiet


@dataclass
class TrainingRun:
    """The checkpoint written, and what it was trained on."""

    checkpoint: Path
    dataset: str
    images: int
    losses: list[float]
    temperature: float = 1.0
    calibration: dict[str, object] | None = None


#: Folds of the training images whose out-of-fold predictions the temperature is fitted on.
CALIBRATION_FOLDS = 5


def train_checkpoint(
    data: Path,
    subset: str,
    config: TrainConfig,
    out: Path,
    on_error: OnError = OnError.fail,
    say: Say = quiet,
    auto: NestedSettings | None = None,
    calibration_folds: int = CALIBRATION_FOLDS,
) -> TrainingRun:
    """Train ``config`` on every usable image of ``data`` and write the checkpoint ``out``.

    With ``auto`` the blocks are chosen first, on these same training images, by the probe that
    ``cv --blocks auto`` runs in each training fold (``config.blocks`` is replaced).

    The model's probabilities are then calibrated: the same recipe (block choice included) is
    cross-validated over ``calibration_folds`` folds of the training images, and the temperature
    that minimises the log-loss of those out-of-fold predictions is stored in the checkpoint with
    its record (``extra.calibration``); 0 folds stores temperature 1.  This runs after the model
    is trained, so the model is the one the same command trained before calibration existed.
    The training images' positive rate is kept too (``extra.positive_rate``), for ``--prior``.
    A companion network (``config.companion``) has its read-out fitted after the heads, on the same
    images (``extra.selection.companion`` keeps its ``C``), and is part of the calibrated recipe.
    """
    if calibration_folds == 1 or calibration_folds < 0:
        raise InvalidArgumentError(f"calibration needs at least 2 folds (or 0 for none), got {calibration_folds}")
    if subset == "all":
        raise InvalidArgumentError("train uses one subset; choose five, four or three")
    decoded = decode_for(load_dataset(data, subset), config, on_error, say)
    dataset = decoded.dataset
    dataset.require_all_classes()
    cache = prepare_cache(dataset, config, decoded.images)
    selection: dict[str, object] = {}
    recipe = config  # before the blocks chosen on all images replace ``config.blocks``
    if auto is not None:
        blocks, scores = block_chooser(dataset, cache, config.backbone, auto).choose(range(len(dataset)), config.seed)
        config = replace(config, blocks=blocks, aux_weights=(auto.aux_weights[0],) * len(blocks))
        selection = {"blocks": list(blocks), "probe_accuracy": scores, "settings": auto.to_dict()}
        say(f"blocks {', '.join(blocks)} chosen by the inner probe on the {len(dataset)} training images")
    model = build_model(config.architecture)
    losses = fit(model, cache, range(len(dataset)), dataset.labels, config)
    if model.companion is not None:
        say(f"fitting the {model.companion.name} companion's read-out on the {len(dataset)} training images")
        features = companion_features(config.architecture, dataset.paths, decoded.images, batch_size=config.batch_size)
        read_out = fit_read_out(features, dataset.labels)
        read_out.install(model.companion)
        selection["companion"] = {"name": model.companion.name, "C": read_out.c, "weight": model.companion_weight}
    calibration: dict[str, object] | None = None
    if calibration_folds:
        say(f"calibrating: {calibration_folds}-fold out-of-fold predictions of the same recipe")
        model.temperature, calibration = out_of_fold_temperature(
            dataset, recipe, cache, calibration_folds, config.seed, auto
        )
        say(
            f"temperature {model.temperature:.3f}: out-of-fold ECE {calibration['out_of_fold_ece_before']:.4f} "
            f"before, {calibration['out_of_fold_ece_after_in_sample']:.4f} after"
        )
    positive_rate = sum(1 for label in dataset.labels if label == 1) / len(dataset)
    extra = {
        "dataset": dataset.name,
        "losses": losses,
        "skipped": decoded.skipped,
        "selection": selection,
        "positive_rate": positive_rate,
        "calibration": calibration or {},
    }
    trained_from = boundary_stage(config, model)
    save_checkpoint(model, config.to_dict(), out, dataset.class_names, extra=extra, trained_from=trained_from)
    return TrainingRun(out, dataset.name, len(dataset), losses, model.temperature, calibration)
