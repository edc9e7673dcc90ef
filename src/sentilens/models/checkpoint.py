"""Checkpoints that hold only what training changed, load without unpickling code, and refuse
to be applied to the wrong backbone.

A checkpoint is a plain dict of tensors and primitives written with ``torch.save`` to a temporary
file and renamed into place (so a crash never leaves half a file), and read with
``torch.load(weights_only=True)``, which refuses any pickled object other than tensors and
containers.  With ImageNet backbone weights, only the heads and the fine-tuned blocks are stored;
the frozen blocks come from the pinned weight package again at load time and are checked
against a digest taken when the checkpoint was saved.

The models layer knows how a model is built, not how it was trained.  So the checkpoint's
``config`` is whatever config the caller trained with, as a plain dict (the training config):
this module reads only its architecture fields (:meth:`Architecture.from_dict`, the fields
both configs share by name) to rebuild the model, and hands the whole dict back in
:attr:`LoadedCheckpoint.config` for the training layer to read.  Which backbone stages training
changed is said when saving (``trained_from``) and read back from the stages the file holds, so
no training mode is needed here.  Files written before this split load unchanged: their config
and tensors are laid out the same way.

A model with a companion network (:class:`~sentilens.models.companion.Companion`) stores its
read-out (standardisation and linear layer, a few KB); its network is rebuilt from the pinned
ImageNet weights and fingerprinted with the frozen backbone blocks.

The model's probability calibration (:attr:`SentimentModel.temperature`) is kept as the plain
number ``temperature``; files written before it existed load with temperature 1 (uncalibrated,
as they were written).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from sentilens.models.architecture import Architecture, build_model, upgrade_block_key
from sentilens.models.sentiment import SentimentModel
from sentilens.utils.atomic import atomic_path
from sentilens.utils.errors import SentilensError
from sentilens.utils.hashing import tensors_digest
from sentilens.utils.version import __version__

FORMAT = "sentilens-checkpoint/1"


class CheckpointError(SentilensError, ValueError):
    """A checkpoint that cannot be used here; the message says why."""


@dataclass
class LoadedCheckpoint:
    """A ready model with the config (a plain dict, as saved) and class names it was trained with."""

    model: SentimentModel
    config: dict[str, Any]
    class_names: tuple[str, ...]
    metadata: dict[str, Any]


def _stage_of(key: str) -> str | None:
    """The backbone stage a state-dict key belongs to (``backbone.stages.<stage>....``), if any."""
    parts = key.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["backbone", "stages"] else None


#: Where a companion's network lies in the state dict: always its ImageNet weights, never stored.
COMPANION_NETWORK = "companion.backbone."


def _split_state(
    model: SentimentModel, weights: str, trained: Collection[str]
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(state to store, frozen ImageNet state to fingerprint); ``trained`` names the backbone
    stages whose weights differ from the ImageNet ones.  A companion's network is frozen ImageNet
    weights whatever the main backbone's; its read-out is stored."""
    state = model.state_dict()

    def frozen(key: str) -> bool:
        if key.startswith(COMPANION_NETWORK):
            return True
        return weights == "imagenet" and key.startswith("backbone.") and _stage_of(key) not in trained

    return {k: v for k, v in state.items() if not frozen(k)}, {k: v for k, v in state.items() if frozen(k)}


def save_checkpoint(
    model: SentimentModel,
    config: Mapping[str, Any],
    path: str | Path,
    class_names: tuple[str, ...] = ("negative", "positive"),
    extra: dict[str, Any] | None = None,
    *,
    trained_from: str | None,
) -> Path:
    """Write the checkpoint atomically; return its path.

    Args:
        model: the model to store.
        config: the config it was built and trained with, as a plain dict whose architecture
            fields (see :class:`Architecture`) rebuild it.
        path: where to write.
        class_names: names indexed by class.
        extra: anything else to keep (plain values and tensors).
        trained_from: the first backbone stage whose weights training changed (every later
            stage changed too); None when the backbone is as built.
    """
    architecture = Architecture.from_dict(config)
    names = model.backbone.stage_names
    trained = names[model.backbone.stage_index(trained_from) :] if trained_from is not None else []
    stored, frozen = _split_state(model, architecture.weights, trained)
    payload = {
        "format": FORMAT,
        "sentilens_version": __version__,
        "config": dict(config),
        "class_names": list(class_names),
        "backbone": architecture.backbone,
        "blocks": list(model.blocks),
        "aux_weights": list(model.aux_weights),
        "frozen_digest": tensors_digest(frozen) if frozen else "",
        "temperature": float(model.temperature),
        "extra": extra or {},
        "state_dict": {k: v.detach().cpu().clone() for k, v in stored.items()},
    }
    path = Path(path)
    with atomic_path(path) as temporary:
        torch.save(payload, temporary)
    return path


def read_payload(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint's dict safely (no arbitrary unpickling) and check its format."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch's UnpicklingError and friends: the file is unsafe or corrupt
        first_line = next(iter(str(error).splitlines()), "")
        raise CheckpointError(f"{path}: refused to load ({type(error).__name__}: {first_line})") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a sentilens checkpoint (format {FORMAT})")
    payload = upgrade_block_key(payload)  # files written before the rename store "taps"
    missing = [key for key in _REQUIRED if key not in payload]
    if missing:
        raise CheckpointError(f"{path}: damaged checkpoint, missing {', '.join(missing)}")
    return payload


_REQUIRED = ("config", "class_names", "backbone", "blocks", "frozen_digest", "state_dict")


def load_checkpoint(
    path: str | Path, expect_backbone: str | None = None, expect_blocks: tuple[str, ...] | None = None
) -> LoadedCheckpoint:
    """Rebuild the model of a checkpoint, optionally insisting on a backbone and blocks."""
    payload = read_payload(path)
    if expect_backbone is not None and payload["backbone"] != expect_backbone:
        raise CheckpointError(f"{path}: made for backbone {payload['backbone']!r}, not {expect_backbone!r}")
    if expect_blocks is not None and tuple(payload["blocks"]) != tuple(expect_blocks):
        raise CheckpointError(f"{path}: has heads on blocks {payload['blocks']}, not {list(expect_blocks)}")
    config = payload["config"]
    try:
        if not isinstance(config, dict):
            raise TypeError(f"a dict expected, not {type(config).__name__}")
        architecture = Architecture.from_dict(config)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: damaged config ({error})") from error
    if architecture.weights != "imagenet":
        model = build_model(replace(architecture, weights="none"))  # every backbone tensor is in the checkpoint
    else:
        model = build_model(architecture)
    held = {stage for key in payload["state_dict"] if (stage := _stage_of(key)) is not None}
    stored, frozen = _split_state(model, architecture.weights, held)
    if frozen and tensors_digest(frozen) != payload["frozen_digest"]:
        networks = " and ".join(name for name in (architecture.backbone, architecture.companion) if name)
        raise CheckpointError(
            f"{path}: the installed {networks} ImageNet weights differ from those it was trained on "
            "(or the file lacks blocks it fine-tuned)"
        )
    missing = set(stored) - set(payload["state_dict"])
    unexpected = set(payload["state_dict"]) - set(stored)
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: tensors do not fit {architecture.backbone} with blocks {list(model.blocks)} "
            f"({len(missing)} missing, {len(unexpected)} unexpected)"
        )
    try:
        model.load_state_dict(payload["state_dict"], strict=False)
    except RuntimeError as error:
        raise CheckpointError(f"{path}: tensor shapes do not fit the model ({error})") from error
    temperature = payload.get("temperature", 1.0)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise CheckpointError(f"{path}: damaged temperature {temperature!r} (a positive number expected)")
    model.temperature = float(temperature)
    return LoadedCheckpoint(model.eval(), config, tuple(payload["class_names"]), payload)
