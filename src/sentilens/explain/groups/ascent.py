"""Pictures of neuron-group directions by activation maximisation, cached per direction.

A neuron group is a direction ``d`` in a tap's channel space.  Its picture is the image that
maximises ``sum_k d_k * mean_ij a_kij`` (the neuron-group objective of Olah et al., "The Building
Blocks of Interpretability", 2018), optimised as the channel pictures are (the same
parametrisation, transforms and settings, :mod:`sentilens.explain.activation_max`).  Every
picture starts from the same noise, so two pictures differ only because their directions do.

Pictures are kept in ``$SENTILENS_CACHE/groups`` (default ``~/.cache/sentilens``), one uint8
``.npy`` per (weights up to the tap, tap, settings, direction); directions are rounded to
float16 first, so the same group gives the same key on every run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sentilens.explain.activation_max import (
    AscentSettings,
    check_ascent_size,
    direction_objective,
    frozen,
    optimise,
)
from sentilens.explain.channel_cache import weights_digest
from sentilens.models.backbones import Backbone
from sentilens.utils.atomic import atomic_path
from sentilens.utils.cache import cache_root
from sentilens.utils.errors import InvalidArgumentError
from sentilens.utils.hashing import json_digest


def default_cache_dir() -> Path:
    """``$SENTILENS_CACHE/groups``, else ``~/.cache/sentilens/groups``."""
    return cache_root("groups")


def direction_pictures(
    backbone: Backbone,
    tap: str,
    directions: np.ndarray | torch.Tensor,
    settings: AscentSettings | None = None,
    cache_dir: str | Path | None = None,
) -> torch.Tensor:
    """One picture ``(N, 3, s, s)`` in [0, 1] per direction ``(N, C)`` over the tap's channels.

    Cached pictures are read; the others are optimised together in batches of
    ``settings.batch_size`` and stored.
    """
    backbone.check_taps([tap])
    settings = (settings or AscentSettings()).resolved(backbone)
    check_ascent_size(backbone, settings, [tap])
    rounded = torch.as_tensor(np.asarray(directions, dtype=np.float32)).to(torch.float16)
    if rounded.dim() != 2 or rounded.shape[1] != backbone.tap_channels[tap]:
        raise InvalidArgumentError(
            f"directions of shape {tuple(rounded.shape)} for tap {tap!r} with {backbone.tap_channels[tap]} channels"
        )
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    base = {
        "backbone": backbone.name,
        "weights": weights_digest(backbone, tap),
        "tap": tap,
        "settings": settings.to_dict(),
    }
    paths = [
        root / f"{backbone.name}-{tap}-{json_digest({**base, 'direction': row.numpy().tobytes().hex()})[:32]}.npy"
        for row in rounded
    ]
    pictures: list[torch.Tensor | None] = [
        torch.from_numpy(np.load(p)).float() / 255.0 if p.is_file() else None for p in paths
    ]
    missing = [i for i, picture in enumerate(pictures) if picture is None]
    with frozen(backbone):
        for start in range(0, len(missing), settings.batch_size):
            chunk = missing[start : start + settings.batch_size]
            generator = torch.Generator().manual_seed(settings.seed)
            objective = direction_objective(rounded[chunk].float())
            made, _, _ = optimise(backbone, tap, objective, len(chunk), settings, generator, shared_start=True)
            for index, picture in zip(chunk, made):
                stored = (picture.clamp(0, 1) * 255).round().to(torch.uint8)
                with atomic_path(paths[index]) as temporary, open(temporary, "wb") as stream:
                    np.save(stream, stored.numpy())
                pictures[index] = stored.float() / 255.0
    return torch.stack([p for p in pictures if p is not None])
