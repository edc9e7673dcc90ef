"""Backbones with blocks and their specs, the light heads, the fused sentiment model, building it
from an architecture, and its checkpoints.

Names are imported on first use (:func:`sentilens.utils.lazy.lazy_face`): add one by importing it
under ``if TYPE_CHECKING:`` and listing it in ``__all__``.
"""

from typing import TYPE_CHECKING

from sentilens.utils import lazy_face

if TYPE_CHECKING:
    from sentilens.models.architecture import Architecture, build_model, external_weights, upgrade_block_key
    from sentilens.models.backbones import (
        DEFAULT_BACKBONE,
        DEFAULT_WEIGHTS,
        Backbone,
        BackboneSpec,
        available_backbones,
        backbone_class,
        backbone_spec,
        create_backbone,
    )
    from sentilens.models.checkpoint import (
        CheckpointError,
        LoadedCheckpoint,
        load_checkpoint,
        read_payload,
        save_checkpoint,
    )
    from sentilens.models.companion import Companion
    from sentilens.models.heads import DEFAULT_DROPOUT, ClassifierHead
    from sentilens.models.sentiment import COMPANION, DEFAULT_AUX_WEIGHT, HeadLogits, SentimentModel, temper

__all__ = [
    "COMPANION",
    "Companion",
    "DEFAULT_AUX_WEIGHT",
    "DEFAULT_BACKBONE",
    "DEFAULT_DROPOUT",
    "DEFAULT_WEIGHTS",
    "Architecture",
    "Backbone",
    "BackboneSpec",
    "CheckpointError",
    "ClassifierHead",
    "HeadLogits",
    "LoadedCheckpoint",
    "SentimentModel",
    "available_backbones",
    "backbone_class",
    "backbone_spec",
    "build_model",
    "create_backbone",
    "external_weights",
    "load_checkpoint",
    "read_payload",
    "save_checkpoint",
    "temper",
    "upgrade_block_key",
]

lazy_face(__name__)
