"""Train on a whole dataset and write a checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from sentilens.app.evaluate import decode_for
from sentilens.data import OnError, load_dataset
from sentilens.evaluation import NestedSettings, block_chooser
from sentilens.models import build_model, save_checkpoint
from sentilens.training import TrainConfig, boundary_stage, fit, prepare_cache
from sentilens.utils import InvalidArgumentError, Say, quiet


@dataclass
class TrainingRun:
    """The checkpoint written, and what it was trained on."""

    checkpoint: Path
    dataset: str
    images: int
    losses: list[float]


def train_checkpoint(
    data: Path,
    subset: str,
    config: TrainConfig,
    out: Path,
    on_error: OnError = OnError.fail,
    say: Say = quiet,
    auto: NestedSettings | None = None,
) -> TrainingRun:
    """Train ``config`` on every usable image of ``data`` and write the checkpoint ``out``.

    With ``auto`` the blocks are chosen first, on these same training images, by the probe that
    ``cv --blocks auto`` runs in each training fold (``config.blocks`` is replaced).
    """
    if subset == "all":
        raise InvalidArgumentError("train uses one subset; choose five, four or three")
    decoded = decode_for(load_dataset(data, subset), config, on_error, say)
    dataset = decoded.dataset
    dataset.require_all_classes()
    cache = prepare_cache(dataset, config, decoded.images)
    selection: dict[str, object] = {}
    if auto is not None:
        blocks, scores = block_chooser(dataset, cache, config.backbone, auto).choose(range(len(dataset)), config.seed)
        config = replace(config, blocks=blocks, aux_weights=(auto.aux_weights[0],) * len(blocks))
        selection = {"blocks": list(blocks), "probe_accuracy": scores, "settings": auto.to_dict()}
        say(f"blocks {', '.join(blocks)} chosen by the inner probe on the {len(dataset)} training images")
    model = build_model(config.architecture)
    losses = fit(model, cache, range(len(dataset)), dataset.labels, config)
    extra = {"dataset": dataset.name, "losses": losses, "skipped": decoded.skipped, "selection": selection}
    trained_from = boundary_stage(config, model)
    save_checkpoint(model, config.to_dict(), out, dataset.class_names, extra=extra, trained_from=trained_from)
    return TrainingRun(out, dataset.name, len(dataset), losses)
