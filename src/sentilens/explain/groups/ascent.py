"""Pictures of neuron-group directions by activation maximisation, cached per direction.

A neuron group is a direction ``d`` in a block's channel space.  Its picture is the image that
maximises ``sum_k d_k * mean_ij a_kij`` (the neuron-group objective of Olah et al., "The Building
Blocks of Interpretability", 2018), optimised as the channel pictures are (the same
parametrisation, transforms and settings, :mod:`sentilens.explain.activation_max`).  Every
picture starts from the same noise, so two pictures differ only because their directions do.

Pictures are kept in ``$SENTILENS_CACHE/groups`` (default ``~/.cache/sentilens``), a
:class:`~sentilens.utils.disk_cache.DiskCache` with one entry ``<backbone>-<block>-<key>.group`` (a
uint8 ``.npy``) per (weights up to the block, block, settings, direction); directions are rounded to
float16 first, so the same group gives the same key on every run.  A damaged entry is computed
again.
"""

from __future__ import annotations

import io
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
from sentilens.utils.cache import cache_root
from sentilens.utils.disk_cache import DiskCache, key_digest
from sentilens.utils.errors import InvalidArgumentError
from sentilens.utils.progress import Say, quiet

#: The payload layout of an entry; bump on change.
FORMAT = "sentilens-group-pictures/1"


def default_cache_dir() -> Path:
    """``$SENTILENS_CACHE/groups``, else ``~/.cache/sentilens/groups``."""
    return cache_root("groups")


def _parse_picture(payload: bytes) -> torch.Tensor:
    """A stored uint8 picture as floats in [0, 1]."""
    return torch.from_numpy(np.load(io.BytesIO(payload))).float() / 255.0


def direction_pictures(
    backbone: Backbone,
    block: str,
    directions: np.ndarray | torch.Tensor,
    settings: AscentSettings | None = None,
    cache_dir: str | Path | None = None,
    say: Say = quiet,
) -> torch.Tensor:
    """One picture ``(N, 3, s, s)`` in [0, 1] per direction ``(N, C)`` over the block's channels.

    Cached pictures are read; the others are optimised together in batches of
    ``settings.batch_size`` and stored; ``say`` hears of damaged entries.
    """
    backbone.check_blocks([block])
    settings = (settings or AscentSettings()).resolved(backbone)
    check_ascent_size(backbone, settings, [block])
    rounded = torch.as_tensor(np.asarray(directions, dtype=np.float32)).to(torch.float16)
    if rounded.dim() != 2 or rounded.shape[1] != backbone.block_channels[block]:
        raise InvalidArgumentError(
            f"directions of shape {tuple(rounded.shape)} for block {block!r} "
            f"with {backbone.block_channels[block]} channels"
        )
    cache = DiskCache(Path(cache_dir) if cache_dir is not None else default_cache_dir(), FORMAT, say)
    base = {
        "backbone": backbone.name,
        "weights": weights_digest(backbone, block),
        "block": block,
        "settings": settings.to_dict(),
    }
    keys = [{**base, "direction": row.numpy().tobytes().hex()} for row in rounded]
    names = [f"{backbone.name}-{block}-{key_digest(key)}.group" for key in keys]
    pictures: list[torch.Tensor | None] = [cache.load(n, k, _parse_picture) for n, k in zip(names, keys)]
    missing = [i for i, picture in enumerate(pictures) if picture is None]
    with frozen(backbone):
        for start in range(0, len(missing), settings.batch_size):
            chunk = missing[start : start + settings.batch_size]
            generator = torch.Generator().manual_seed(settings.seed)
            objective = direction_objective(rounded[chunk].float())
            made, _, _ = optimise(backbone, block, objective, len(chunk), settings, generator, shared_start=True)
            for index, picture in zip(chunk, made):
                stored = (picture.clamp(0, 1) * 255).round().to(torch.uint8)
                buffer = io.BytesIO()
                np.save(buffer, stored.numpy())
                cache.save(names[index], keys[index], buffer.getvalue())
                pictures[index] = stored.float() / 255.0
    return torch.stack([p for p in pictures if p is not None])
