"""Backbones with taps, the light heads and the fused sentiment model."""

from sentilens.models.backbones import (
    DEFAULT_BACKBONE,
    DEFAULT_TAPS,
    DEFAULT_WEIGHTS,
    Backbone,
    available_backbones,
    create_backbone,
)
from sentilens.models.heads import ClassifierHead
from sentilens.models.sentiment import DEFAULT_AUX_WEIGHT, HeadLogits, SentimentModel

__all__ = [
    "DEFAULT_AUX_WEIGHT",
    "DEFAULT_BACKBONE",
    "DEFAULT_TAPS",
    "DEFAULT_WEIGHTS",
    "Backbone",
    "ClassifierHead",
    "HeadLogits",
    "SentimentModel",
    "available_backbones",
    "create_backbone",
]
