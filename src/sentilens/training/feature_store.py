"""An on-disk store of frozen pooled features: the backbone runs once per dataset, not per run.

In frozen mode the backbone's pooled outputs of every tap and of the last block, for each image
view, depend only on the backbone weights and the image files.  They are kept under
``$SENTILENS_CACHE/features`` (default ``~/.cache/sentilens/features``), keyed by a digest of the
backbone's tensors, its input size and the SHA-256 of every image file in order.  Cross-validation,
the block experiments and the layer ranking then cost seconds after the first run instead of
minutes.  A damaged store file is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from sentilens.models.backbones import Backbone
from sentilens.training.cache import VIEWS, ViewCache, build_view_cache
from sentilens.utils.atomic import atomic_path
from sentilens.utils.cache import cache_root
from sentilens.utils.hashing import tensors_digest


def default_store_dir() -> Path:
    """``$SENTILENS_CACHE/features``, else ``~/.cache/sentilens/features``."""
    return cache_root("features")


def backbone_digest(backbone: Backbone) -> str:
    """SHA-256 over the backbone's name and the names and bytes of its tensors."""
    return tensors_digest(backbone.state_dict(), prefix=backbone.name)


def features_key(backbone: Backbone, image_digests: Sequence[str]) -> str:
    """Key of one (weights, input size, image files) combination."""
    digest = hashlib.sha256(f"{backbone_digest(backbone)}:{backbone.input_size}".encode())
    for image in image_digests:
        digest.update(image.encode())
    return digest.hexdigest()[:32]


def _load(path: Path) -> dict[str, dict[str, torch.Tensor]] | None:
    """A stored file's pooled features, or None when absent or damaged (then removed)."""
    if not path.is_file():
        return None
    try:
        loaded: dict[str, dict[str, torch.Tensor]] = torch.load(path, map_location="cpu", weights_only=True)
        return loaded
    except Exception:  # a damaged or partial file: rebuilt by the caller
        path.unlink(missing_ok=True)
        return None


def load_or_build_frozen(
    backbone: Backbone,
    image_digests: Sequence[str],
    decode: Callable[[], torch.Tensor],
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    store_dir: Path | None = None,
    views: Sequence[str] = VIEWS,
) -> ViewCache:
    """Pooled features of every tap (and the final map) per view, from the store or computed.

    The centre and mirror views are stored together in ``<backbone>-<key>.pt``; each further
    view (``zoom``, ...) in ``<backbone>-<key>-<view>.pt``, so asking for a new view computes only
    that view and earlier store files stay valid.

    Args:
        backbone: the frozen backbone.
        image_digests: SHA-256 of each image file, in dataset order.
        decode: returns the decoded uint8 crops; called only when the store lacks a view.
        batch_size: images per forward pass when computing.
        device: where to compute.
        store_dir: the store folder (default :func:`default_store_dir`).
        views: the views wanted besides centre and mirror (which are always there).
    """
    store_dir = store_dir or default_store_dir()
    stem = f"{backbone.name}-{features_key(backbone, image_digests)}"
    groups = [VIEWS, *[(v,) for v in views if v not in VIEWS]]
    pooled: dict[str, dict[str, torch.Tensor]] = {}
    images: torch.Tensor | None = None
    for group in groups:
        path = store_dir / (f"{stem}.pt" if group == VIEWS else f"{stem}-{group[0]}.pt")
        stored = _load(path)
        if stored is None:
            images = decode() if images is None else images
            stored = build_view_cache(
                backbone, images, backbone.tap_names, None, batch_size=batch_size, device=device, views=group
            ).pooled
            with atomic_path(path) as temporary:
                torch.save(stored, temporary)
        pooled.update(stored)
    return ViewCache(None, {}, pooled)
