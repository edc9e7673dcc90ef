"""Backbones with named blocks, behind one registry; each declares its metadata in a spec."""

from sentilens.models.backbones import efficientnet_lite, googlenet, inception_v3  # noqa: F401  (registers them)
from sentilens.models.backbones.base import Backbone, BackboneOutput, UnknownBlockError
from sentilens.models.backbones.registry import (
    DEFAULT_BACKBONE,
    DEFAULT_WEIGHTS,
    available_backbones,
    backbone_class,
    backbone_spec,
    create_backbone,
    register_backbone,
)
from sentilens.models.backbones.spec import BackboneSpec
from sentilens.models.backbones.weights import WeightsUnavailableError

__all__ = [
    "Backbone",
    "BackboneOutput",
    "BackboneSpec",
    "DEFAULT_BACKBONE",
    "DEFAULT_WEIGHTS",
    "UnknownBlockError",
    "WeightsUnavailableError",
    "available_backbones",
    "backbone_class",
    "backbone_spec",
    "create_backbone",
    "register_backbone",
]
