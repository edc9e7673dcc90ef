"""What a sentiment model is built from, and building it.

An :class:`Architecture` names everything :func:`build_model` needs (the backbone and its
weights, the auxiliary blocks and their weights, the heads' dropout, the seed of a random
backbone) and nothing about how the model learns, which is the training config's business.  The
training config carries the same fields under the same names, so a checkpoint stores one flat
config and the models layer reads its architecture from it (:mod:`sentilens.models.checkpoint`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch

from sentilens.models.backbones import DEFAULT_BACKBONE, DEFAULT_WEIGHTS, Backbone, backbone_class, create_backbone
from sentilens.models.companion import Companion
from sentilens.models.heads import DEFAULT_DROPOUT
from sentilens.models.sentiment import SentimentModel
from sentilens.utils.errors import InvalidArgumentError

#: The key under which configs and checkpoints written before "tap" was renamed "block" hold
#: the auxiliary blocks; such files (the shipped checkpoint among them) must keep loading.
OLD_BLOCKS_KEY = "taps"


def upgrade_block_key(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` (a config or checkpoint dict) with an old ``taps`` entry under ``blocks``."""
    upgraded = dict(data)
    if OLD_BLOCKS_KEY in upgraded:
        if "blocks" in upgraded:
            raise InvalidArgumentError(f"give blocks or the older key {OLD_BLOCKS_KEY!r}, not both")
        upgraded["blocks"] = upgraded.pop(OLD_BLOCKS_KEY)
    return upgraded


@dataclass(frozen=True)
class Architecture:
    """How to build a :class:`~sentilens.models.SentimentModel`.

    Attributes:
        backbone: registry name (``inception_v3`` or ``googlenet``).
        weights: ``imagenet``, ``none`` or a state-dict file for the backbone.
        blocks: blocks with auxiliary heads; None means the backbone spec's default auxiliary blocks.
        aux_weights: one weight per block; None means ``DEFAULT_AUX_WEIGHT`` (0.1, the paper) each.
        dropout: dropout rate of every head.
        label_smoothing: label smoothing of every head's loss (a regulariser kept with the heads
            it shaped, like ``dropout``).
        seed: draws a randomly initialised backbone (``weights="none"``).
        companion: registry name of a second, frozen ImageNet network whose linear read-out votes
            beside the heads (:class:`~sentilens.models.companion.Companion`), or None.
        companion_weight: the companion's share of the fused probabilities.
    """

    backbone: str = DEFAULT_BACKBONE
    weights: str = DEFAULT_WEIGHTS
    blocks: tuple[str, ...] | None = None
    aux_weights: tuple[float, ...] | None = None
    dropout: float = DEFAULT_DROPOUT
    label_smoothing: float = 0.0
    seed: int = 0
    companion: str | None = None
    companion_weight: float = 0.5

    def __post_init__(self) -> None:
        if self.companion is not None:
            backbone_class(self.companion)  # refuses an unknown name, listing the known ones
        if self.blocks is not None:
            object.__setattr__(self, "blocks", tuple(self.blocks))
        if self.aux_weights is not None:
            object.__setattr__(self, "aux_weights", tuple(float(w) for w in self.aux_weights))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Architecture:
        """The architecture fields of ``data`` (a config that may hold more); absent ones take
        their defaults; an old ``taps`` key is read as ``blocks``."""
        data = upgrade_block_key(data)
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def build_model(
    architecture: Architecture, backbone: Backbone | None = None, companion_backbone: Backbone | None = None
) -> SentimentModel:
    """The backbone with its weights, fresh heads on the architecture's blocks, and the companion
    network (unfitted) where the architecture names one.

    ``backbone`` and ``companion_backbone`` (made by this function for the same architecture) are
    shared instead of building others: the models of a frozen cross-validation's folds differ only
    in their heads and read-outs.

    A randomly initialised backbone (``weights="none"``) is drawn from ``architecture.seed``
    alone, so the backbone that features are cached with is the one every fold's model (and
    checkpoint) holds.  The heads draw from the global generator: seed it first for reproducible
    heads.
    """
    if backbone is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(architecture.seed)
            backbone = create_backbone(architecture.backbone, architecture.weights)
    blocks = architecture.blocks if architecture.blocks is not None else backbone.spec.default_aux_blocks
    companion = None
    if architecture.companion is not None:
        companion = Companion(companion_backbone or create_backbone(architecture.companion, DEFAULT_WEIGHTS))
    return SentimentModel(
        backbone,
        blocks,
        architecture.aux_weights,
        dropout=architecture.dropout,
        label_smoothing=architecture.label_smoothing,
        companion=companion,
        companion_weight=architecture.companion_weight,
    )


def external_weights(architecture: Architecture) -> list[Path] | None:
    """The files besides its checkpoint that a model is built from: the ImageNet weights of its
    backbone (a checkpoint of ``weights="imagenet"`` holds only what training changed; none for
    other weights: the checkpoint holds every tensor) and of its companion (always ImageNet's);
    None where a file is not known here (torchvision's cache for GoogLeNet), so that nothing relies
    on a list that could be short."""
    files = []
    for name, weights in ((architecture.backbone, architecture.weights), (architecture.companion, DEFAULT_WEIGHTS)):
        if name is None or weights != "imagenet":
            continue
        found = _imagenet_file(name)
        if found is None:
            return None
        files.append(found)
    return files


def _imagenet_file(backbone: str) -> Path | None:
    """The file that holds ``backbone``'s ImageNet weights, where sentilens reads one itself."""
    if backbone == "inception_v3":
        from sentilens.models.backbones.inception_v3 import find_fid_weights

        return find_fid_weights()
    if backbone == "efficientnet_lite0":
        from sentilens.models.backbones.efficientnet_lite import find_weights

        return find_weights()
    return None
