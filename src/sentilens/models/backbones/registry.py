"""One registry that maps a backbone name to its class, its spec and its constructor (the timm habit)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sentilens.models.backbones.base import Backbone
from sentilens.models.backbones.spec import BackboneSpec
from sentilens.utils.errors import InvalidArgumentError

BackboneFactory = Callable[[str | Path], Backbone]
Factory = TypeVar("Factory", bound=BackboneFactory)

#: The backbone and weights used when none are named: Inception-v3 with its ImageNet weights.
DEFAULT_BACKBONE = "inception_v3"
DEFAULT_WEIGHTS = "imagenet"

_FACTORIES: dict[str, BackboneFactory] = {}
_CLASSES: dict[str, type[Backbone]] = {}


def register_backbone(kind: type[Backbone]) -> Callable[[Factory], Factory]:
    """Decorator: make ``factory(weights)`` (which builds a ``kind``) available as
    ``create_backbone(name, weights)``, and ``kind`` and its spec by ``name``, the spec's name."""

    def decorate(factory: Factory) -> Factory:
        _FACTORIES[kind.spec.name] = factory
        _CLASSES[kind.spec.name] = kind
        return factory

    return decorate


def backbone_class(name: str) -> type[Backbone]:
    """The class of a backbone by name, for its spec and class-level checks (``check_blocks``,
    ``smallest_input``) without building it."""
    if name not in _CLASSES:
        raise InvalidArgumentError(f"unknown backbone {name!r}; available: {', '.join(available_backbones())}")
    return _CLASSES[name]


def backbone_spec(name: str) -> BackboneSpec:
    """What backbone ``name`` is (input size and range, blocks, channels, default auxiliary
    blocks, weight choices), without building it: ``backbone_spec("inception_v3").input_size``."""
    return backbone_class(name).spec


def available_backbones() -> list[str]:
    """Names accepted by :func:`create_backbone`."""
    return sorted(_FACTORIES)


def create_backbone(name: str, weights: str | Path = DEFAULT_WEIGHTS) -> Backbone:
    """Build a backbone by name.

    Args:
        name: one of :func:`available_backbones`.
        weights: ``"imagenet"`` for the pretrained weights, ``"none"`` for random
            initialisation, or the path of a state-dict file.
    """
    backbone_class(name)  # refuses an unknown name, listing the known ones
    return _FACTORIES[name](weights)
