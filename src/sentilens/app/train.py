"""Train on a whole dataset and write a checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sentilens.app.evaluate import decode_for
from sentilens.data import load_dataset
from sentilens.data.store import OnError
from sentilens.training import TrainConfig, build_model, fit, prepare_cache, save_checkpoint
from sentilens.utils.errors import InvalidArgumentError
from sentilens.utils.progress import Say, quiet


@dataclass
class TrainingRun:
    """The checkpoint written, and what it was trained on."""

    checkpoint: Path
    dataset: str
    images: int
    losses: list[float]


def train_checkpoint(
    data: Path, subset: str, config: TrainConfig, out: Path, on_error: OnError = OnError.fail, say: Say = quiet
) -> TrainingRun:
    """Train ``config`` on every usable image of ``data`` and write the checkpoint ``out``."""
    if subset == "all":
        raise InvalidArgumentError("train uses one subset; choose five, four or three")
    decoded = decode_for(load_dataset(data, subset), config, on_error, say)
    decoded.dataset.require_all_classes()
    cache = prepare_cache(decoded.dataset, config, decoded.images)
    model = build_model(config)
    losses = fit(model, cache, range(len(decoded.dataset)), decoded.dataset.labels, config)
    extra = {"dataset": decoded.dataset.name, "losses": losses, "skipped": decoded.skipped}
    save_checkpoint(model, config, out, decoded.dataset.class_names, extra=extra)
    return TrainingRun(out, decoded.dataset.name, len(decoded.dataset), losses)
