"""One registry that maps a backbone name to its constructor (the timm habit)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sentilens.models.backbones.base import Backbone
from sentilens.utils.errors import InvalidArgumentError

BackboneFactory = Callable[[str | Path], Backbone]

#: The backbone and weights used when none are named: Inception-v3 with its ImageNet weights.
DEFAULT_BACKBONE = "inception_v3"
DEFAULT_WEIGHTS = "imagenet"

_REGISTRY: dict[str, BackboneFactory] = {}


def register_backbone(name: str) -> Callable[[BackboneFactory], BackboneFactory]:
    """Decorator: make ``factory(weights)`` available as ``create_backbone(name, weights)``."""

    def decorate(factory: BackboneFactory) -> BackboneFactory:
        _REGISTRY[name] = factory
        return factory

    return decorate


def available_backbones() -> list[str]:
    """Names accepted by :func:`create_backbone`."""
    return sorted(_REGISTRY)


def create_backbone(name: str, weights: str | Path = DEFAULT_WEIGHTS) -> Backbone:
    """Build a backbone by name.

    Args:
        name: one of :func:`available_backbones`.
        weights: ``"imagenet"`` for the pretrained weights, ``"none"`` for random
            initialisation, or the path of a state-dict file.
    """
    if name not in _REGISTRY:
        raise InvalidArgumentError(f"unknown backbone {name!r}; available: {', '.join(available_backbones())}")
    return _REGISTRY[name](weights)
