"""Backbones with named taps, behind one registry."""

from sentilens.models.backbones import googlenet, inception_v3  # noqa: F401  (registers the backbones)
from sentilens.models.backbones.base import Backbone, BackboneOutput, UnknownTapError
from sentilens.models.backbones.registry import (
    DEFAULT_BACKBONE,
    DEFAULT_WEIGHTS,
    available_backbones,
    backbone_class,
    create_backbone,
    register_backbone,
)
from sentilens.models.backbones.weights import WeightsUnavailableError

#: Auxiliary-head taps used when none are given.  googlenet: the paper's choice.  inception_v3:
#: blocks of its 17x17 stage, the stage at GoogLeNet 4a-4e's depth (see BENCHMARKS.md).
DEFAULT_TAPS = {"googlenet": ("4a", "4b", "4d"), "inception_v3": ("6b", "6c", "6e")}

__all__ = [
    "Backbone",
    "BackboneOutput",
    "DEFAULT_BACKBONE",
    "DEFAULT_TAPS",
    "DEFAULT_WEIGHTS",
    "UnknownTapError",
    "WeightsUnavailableError",
    "available_backbones",
    "backbone_class",
    "create_backbone",
    "register_backbone",
]
