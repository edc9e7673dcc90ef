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
_CLASSES: dict[str, type[Backbone]] = {}


def register_backbone(name: str, kind: type[Backbone]) -> Callable[[BackboneFactory], BackboneFactory]:
    """Decorator: make ``factory(weights)`` (which builds a ``kind``) available as
    ``create_backbone(name, weights)``, and ``kind`` as ``backbone_class(name)``."""

    def decorate(factory: BackboneFactory) -> BackboneFactory:
        _REGISTRY[name] = factory
        _CLASSES[name] = kind
        return factory

    return decorate


def backbone_class(name: str) -> type[Backbone]:
    """The class of a backbone by name, for its metadata (taps, sizes) without building it."""
    if name not in _CLASSES:
        raise InvalidArgumentError(f"unknown backbone {name!r}; available: {', '.join(available_backbones())}")
    return _CLASSES[name]


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
