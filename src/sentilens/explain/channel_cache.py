"""An on-disk cache of a whole block's channel pictures, keyed by weights, block and settings.

Eq. (3) and (5) combine *all* channel pictures of a block, and computing them takes minutes, so
they are computed once and kept.  The key is a SHA-256 over the backbone name, a digest of the
weights of the stages that feed the block (later stages do not change the pictures, so a model
fine-tuned above the block shares its pictures with the ImageNet backbone), the block and the
settings.  Each entry (a :class:`~sentilens.utils.disk_cache.DiskCache` file entry,
``<backbone>-<block>-<key>.channels``) holds an ``.npz`` of the uint8 pictures and both activation vectors;
it is published atomically and verified on read, and a damaged one is computed again.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sentilens.explain.activation_max import AscentSettings, ChannelPictures, visualise_channels
from sentilens.models.backbones import Backbone
from sentilens.utils.cache import cache_root
from sentilens.utils.disk_cache import DiskCache, key_digest
from sentilens.utils.hashing import tensors_digest
from sentilens.utils.progress import Say, quiet

#: The payload layout of an entry; bump on change.
FORMAT = "sentilens-channel-pictures/1"


def default_cache_dir() -> Path:
    """``$SENTILENS_CACHE/channels``, else ``~/.cache/sentilens/channels``."""
    return cache_root("channels")


def weights_digest(backbone: Backbone, block: str) -> str:
    """Digest of the parameters and buffers of every stage up to and including ``block``."""
    names = backbone.stage_names[: backbone.stage_index(block) + 1]
    state = {f"{name}.{key}": value for name in names for key, value in backbone.stages[name].state_dict().items()}
    return tensors_digest(state)


def cache_description(backbone: Backbone, block: str, settings: AscentSettings) -> dict[str, Any]:
    """What determines the pictures of all channels of ``block`` under ``settings``: an entry's key."""
    backbone.check_blocks([block])
    return {
        "backbone": backbone.name,
        "weights": weights_digest(backbone, block),
        "block": block,
        "settings": settings.resolved(backbone).to_dict(),
    }


def cache_key(backbone: Backbone, block: str, settings: AscentSettings) -> str:
    """Hex key of the pictures of all channels of ``block`` under ``settings``."""
    return key_digest(cache_description(backbone, block, settings))


def _entry_name(backbone: Backbone, block: str, key: dict[str, Any]) -> str:
    return f"{backbone.name}-{block}-{key_digest(key)}.channels"


class ChannelPictureCache:
    """Load or compute-and-store the pictures of every channel of a block.

    Args:
        root: cache folder; None means :func:`default_cache_dir`.
        say: hears of damaged entries (each one is computed again).
    """

    def __init__(self, root: str | Path | None = None, say: Say = quiet) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.entries = DiskCache(self.root, FORMAT, say)

    def path_for(self, backbone: Backbone, block: str, settings: AscentSettings) -> Path:
        return self.root / _entry_name(backbone, block, cache_description(backbone, block, settings))

    def load(self, backbone: Backbone, block: str, settings: AscentSettings) -> ChannelPictures | None:
        """The cached pictures, or None when this combination has not been computed (or its entry was damaged)."""
        key = cache_description(backbone, block, settings)

        def parse(payload: bytes) -> ChannelPictures:
            with np.load(io.BytesIO(payload)) as stored:
                return ChannelPictures(
                    block=block,
                    channels=torch.from_numpy(stored["channels"]),
                    pictures=torch.from_numpy(stored["pictures"]).float() / 255.0,
                    start_activation=torch.from_numpy(stored["start_activation"]),
                    final_activation=torch.from_numpy(stored["final_activation"]),
                    settings=settings.resolved(backbone),
                )

        return self.entries.load(_entry_name(backbone, block, key), key, parse)

    def save(self, backbone: Backbone, pictures: ChannelPictures) -> Path:
        """Store ``pictures`` (all channels of their block) atomically; return the entry's file."""
        buffer = io.BytesIO()
        np.savez(
            buffer,
            channels=pictures.channels.numpy(),
            pictures=(pictures.pictures.clamp(0, 1) * 255).round().to(torch.uint8).numpy(),
            start_activation=pictures.start_activation.numpy(),
            final_activation=pictures.final_activation.numpy(),
        )
        key = cache_description(backbone, pictures.block, pictures.settings)
        return self.entries.save(_entry_name(backbone, pictures.block, key), key, buffer.getvalue())

    def block_pictures(self, backbone: Backbone, block: str, settings: AscentSettings | None = None) -> ChannelPictures:
        """Pictures of every channel of ``block``: from the cache, else computed and stored."""
        settings = (settings or AscentSettings()).resolved(backbone)
        cached = self.load(backbone, block, settings)
        if cached is not None:
            return cached
        pictures = visualise_channels(backbone, block, None, settings)
        self.save(backbone, pictures)
        return pictures
