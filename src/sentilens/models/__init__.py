"""Backbones with taps, the light heads and the fused sentiment model."""

from .backbones import DEFAULT_TAPS, Backbone, available_backbones, create_backbone
from .heads import ClassifierHead
from .sentiment import HeadLogits, SentimentModel

__all__ = [
    "DEFAULT_TAPS",
    "Backbone",
    "ClassifierHead",
    "HeadLogits",
    "SentimentModel",
    "available_backbones",
    "create_backbone",
]
