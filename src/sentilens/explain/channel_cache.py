"""An on-disk cache of a whole tap's channel pictures, keyed by weights, tap and settings.

Eq. (3) and (5) combine *all* channel pictures of a tap, and computing them takes minutes, so
they are computed once and kept.  The key is a SHA-256 over the backbone name, a digest of the
weights of the stages that feed the tap (later stages do not change the pictures, so a model
fine-tuned above the tap shares its pictures with the ImageNet backbone), the tap and the
settings.  Files are ``<key>.npz`` holding uint8 pictures and both activation vectors, written
to a temporary file and renamed, so an interrupted run never leaves a broken entry.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sentilens.explain.activation_max import AscentSettings, ChannelPictures, visualise_channels
from sentilens.models.backbones import Backbone
from sentilens.utils.atomic import atomic_path
from sentilens.utils.cache import cache_root
from sentilens.utils.hashing import json_digest, tensors_digest


def default_cache_dir() -> Path:
    """``$SENTILENS_CACHE/channels``, else ``~/.cache/sentilens/channels``."""
    return cache_root("channels")


def weights_digest(backbone: Backbone, tap: str) -> str:
    """Digest of the parameters and buffers of every stage up to and including ``tap``."""
    names = backbone.stage_names[: backbone.stage_index(tap) + 1]
    state = {f"{name}.{key}": value for name in names for key, value in backbone.stages[name].state_dict().items()}
    return tensors_digest(state)


def cache_key(backbone: Backbone, tap: str, settings: AscentSettings) -> str:
    """Hex key of the pictures of all channels of ``tap`` under ``settings``."""
    backbone.check_taps([tap])
    description = {
        "backbone": backbone.name,
        "weights": weights_digest(backbone, tap),
        "tap": tap,
        "settings": settings.resolved(backbone).to_dict(),
    }
    return json_digest(description)[:32]


class ChannelPictureCache:
    """Load or compute-and-store the pictures of every channel of a tap.

    Args:
        root: cache folder; None means :func:`default_cache_dir`.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    def path_for(self, backbone: Backbone, tap: str, settings: AscentSettings) -> Path:
        return self.root / f"{backbone.name}-{tap}-{cache_key(backbone, tap, settings)}.npz"

    def load(self, backbone: Backbone, tap: str, settings: AscentSettings) -> ChannelPictures | None:
        """The cached pictures, or None when this combination has not been computed."""
        path = self.path_for(backbone, tap, settings)
        if not path.is_file():
            return None
        with np.load(path) as stored:
            return ChannelPictures(
                tap=tap,
                channels=torch.from_numpy(stored["channels"]),
                pictures=torch.from_numpy(stored["pictures"]).float() / 255.0,
                start_activation=torch.from_numpy(stored["start_activation"]),
                final_activation=torch.from_numpy(stored["final_activation"]),
                settings=settings.resolved(backbone),
            )

    def save(self, backbone: Backbone, pictures: ChannelPictures) -> Path:
        """Store ``pictures`` (all channels of their tap) atomically; return the file."""
        path = self.path_for(backbone, pictures.tap, pictures.settings)
        with atomic_path(path) as temporary, open(temporary, "wb") as stream:
            np.savez(
                stream,
                channels=pictures.channels.numpy(),
                pictures=(pictures.pictures.clamp(0, 1) * 255).round().to(torch.uint8).numpy(),
                start_activation=pictures.start_activation.numpy(),
                final_activation=pictures.final_activation.numpy(),
            )
        return path

    def layer(self, backbone: Backbone, tap: str, settings: AscentSettings | None = None) -> ChannelPictures:
        """Pictures of every channel of ``tap``: from the cache, else computed and stored."""
        settings = (settings or AscentSettings()).resolved(backbone)
        cached = self.load(backbone, tap, settings)
        if cached is not None:
            return cached
        pictures = visualise_channels(backbone, tap, None, settings)
        self.save(backbone, pictures)
        return pictures
